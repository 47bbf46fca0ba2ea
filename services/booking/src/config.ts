import { z } from 'zod';
import { baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';

/** Booking's environment (DESIGN.md "Configuration names"); nothing else reads process.env. */
export const bookingEnvSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8002),
    HOST: z.string().min(1).default('0.0.0.0'),
    /** Hold lifetime; fractions allowed (0.5 = 30 s). */
    BOOKING_HOLD_MINUTES: z.coerce.number().positive().default(10),
    /** A student's cancel more than this many hours before the start gives the lesson back. */
    BOOKING_REFUND_WINDOW_HOURS: z.coerce.number().nonnegative().default(24),
    /** Live holds per student (OWASP API6: nobody hoards a teacher's calendar). */
    BOOKING_MAX_ACTIVE_HOLDS: z.coerce.number().int().positive().default(3),
    /** How often expired holds are swept; 0 turns the background sweep off. */
    BOOKING_HOLD_SWEEP_INTERVAL_MS: z.coerce.number().int().nonnegative().default(30_000),
    /** A booking in `confirming` longer than this is re-requested, then rejected. */
    BOOKING_CONFIRM_TIMEOUT_SECONDS: z.coerce.number().positive().default(30),
    /** Confirmation requests in all (the first included) before the watchdog rejects. */
    BOOKING_CONFIRM_MAX_REQUESTS: z.coerce.number().int().positive().default(3),
    /** How often the confirm watchdog looks for stuck bookings; 0 turns it off. */
    BOOKING_WATCHDOG_INTERVAL_MS: z.coerce.number().int().nonnegative().default(5_000),
  })
  .superRefine((env, ctx) => {
    if (env.APP_ENV === 'production' && isPlaceholderSecret(env.DB_ROLE_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['DB_ROLE_PASSWORD'], message: 'production needs a real password for the booking_svc role' });
    }
  });

export type BookingConfig = z.infer<typeof bookingEnvSchema>;

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): BookingConfig {
  return loadConfig(bookingEnvSchema, env);
}
