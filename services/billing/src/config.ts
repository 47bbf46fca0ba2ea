import { baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';
import { z } from 'zod';

/** The service's name: its queue, its inbox rows' consumer and its serialization locks are named by it. */
export const SERVICE_NAME = 'billing';

export const billingEnvSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8003),
    HOST: z.string().min(1).default('0.0.0.0'),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
    /** How often overdue active packages are expired in the background; 0 turns the sweep off. */
    BILLING_EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
    /** Packages expired per sweep transaction (the sweep loops until none are left). */
    BILLING_EXPIRY_SWEEP_BATCH: z.coerce.number().int().min(1).max(10_000).default(500),
    /** How long an Idempotency-Key of POST /payments is remembered. */
    BILLING_IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  })
  .superRefine((env, ctx) => {
    if (env.APP_ENV === 'production' && isPlaceholderSecret(env.DB_ROLE_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['DB_ROLE_PASSWORD'], message: 'production needs a real password for the billing_svc role' });
    }
  });

export type BillingConfig = z.infer<typeof billingEnvSchema>;

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): BillingConfig {
  return loadConfig(billingEnvSchema, env);
}
