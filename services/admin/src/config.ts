import { z } from 'zod';
import { baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';

const retryDelays = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds, e.g. 1000,10000,60000')
  .transform((v) => v.split(',').map(Number));

export const configSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8006),
    HOST: z.string().min(1).default('0.0.0.0'),
    BOOKING_URL: z.url().default('http://127.0.0.1:8002'),
    BILLING_URL: z.url().default('http://127.0.0.1:8003'),
    LESSONS_URL: z.url().default('http://127.0.0.1:8004'),
    NOTIFICATIONS_URL: z.url().default('http://127.0.0.1:8005'),
    /** RabbitMQ management API (e.g. http://guest:guest@127.0.0.1:15672); unset → AMQP passive declares. */
    RABBITMQ_MANAGEMENT_URL: z.url().optional(),
    /** Per-call budget of each service's /internal/ops in the ops overview. */
    OPS_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(1_500),
    /** Retry tiers of admin's consumer (EVENTS.md); the count of tiers is part of the queue topology. */
    EVENTS_RETRY_DELAYS_MS: retryDelays.default([1_000, 10_000, 60_000]),
    /** How long the consumer waits for more events before writing a batch (the read model's extra lag). */
    ADMIN_CONSUMER_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(20),
  })
  .superRefine((c, ctx) => {
    if (c.APP_ENV === 'production' && isPlaceholderSecret(c.DB_ROLE_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['DB_ROLE_PASSWORD'], message: 'production needs a real password for the admin database role' });
    }
  });

export type AdminConfig = z.infer<typeof configSchema>;

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): AdminConfig {
  return loadConfig(configSchema, env);
}

/** The services whose `/internal/ops` the operations overview asks. */
export const opsServices = ['identity', 'booking', 'billing', 'lessons', 'notifications'] as const;
export type OpsService = (typeof opsServices)[number];

export function opsServiceUrls(config: AdminConfig): Record<OpsService, string> {
  return {
    identity: config.IDENTITY_URL,
    booking: config.BOOKING_URL,
    billing: config.BILLING_URL,
    lessons: config.LESSONS_URL,
    notifications: config.NOTIFICATIONS_URL,
  };
}
