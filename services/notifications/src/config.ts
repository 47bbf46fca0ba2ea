import { z } from 'zod';
import { baseEnvShape, envBoolean, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';

const positiveInt = z.coerce.number().int().positive();

export const configSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8005),
    HOST: z.string().min(1).default('0.0.0.0'),
    SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'an smtp:// or smtps:// URL' }).default('smtp://127.0.0.1:1025'),
    SMTP_FROM: z.string().min(3).max(320).default('GuitarOnline <no-reply@guitaronline.local>'),
    /** Attempts per delivery before it is dead-lettered. */
    NOTIFY_MAX_ATTEMPTS: positiveInt.max(100).default(8),
    NOTIFY_BACKOFF_BASE_MS: positiveInt.default(1_000),
    NOTIFY_BACKOFF_MAX_MS: positiveInt.default(300_000),
    /** Longest sleep of the delivery worker between scans (it is also woken in-process). */
    NOTIFY_WORKER_INTERVAL_MS: positiveInt.default(1_000),
    NOTIFY_WORKER_BATCH: positiveInt.max(500).default(20),
    /** How long the event consumer waits for more events before a transaction (the extra lag of a notification). */
    NOTIFY_CONSUMER_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(5),
    /** How long the marks of sent mails wait for more before one statement writes them (their notification.sent lags by that much). */
    NOTIFY_MARK_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(20),
    /** A claimed row whose worker vanished (crash) is claimable again after this lease. */
    NOTIFY_SEND_LEASE_MS: positiveInt.default(120_000),
    /** Circuit breakers (one for SMTP, one per webhook subscription). */
    NOTIFY_BREAKER_RESET_MS: positiveInt.default(30_000),
    NOTIFY_BREAKER_VOLUME_THRESHOLD: positiveInt.default(5),
    NOTIFY_BREAKER_ERROR_PERCENT: positiveInt.max(100).default(50),
    /** Settled notifications and deliveries older than this are purged. */
    NOTIFY_RETENTION_DAYS: z.coerce.number().positive().default(90),
    NOTIFY_PURGE_INTERVAL_MS: positiveInt.default(3_600_000),
    SMTP_TIMEOUT_MS: positiveInt.default(30_000),
    WEBHOOK_TIMEOUT_MS: positiveInt.default(5_000),
    /**
     * Webhooks may target private, loopback and link-local addresses (a receiver on 127.0.0.1 in
     * development). Unset: allowed except in production (channels/webhook-targets.ts).
     */
    WEBHOOK_ALLOW_PRIVATE_TARGETS: envBoolean.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.NOTIFY_BACKOFF_MAX_MS < c.NOTIFY_BACKOFF_BASE_MS) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_BACKOFF_MAX_MS'], message: 'must be at least NOTIFY_BACKOFF_BASE_MS' });
    }
    // a lease shorter than a send could expire mid-send and let another worker send it again
    if (c.NOTIFY_SEND_LEASE_MS <= Math.max(c.WEBHOOK_TIMEOUT_MS, c.SMTP_TIMEOUT_MS * 3)) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_SEND_LEASE_MS'], message: 'must exceed WEBHOOK_TIMEOUT_MS and 3 × SMTP_TIMEOUT_MS' });
    }
    if (c.APP_ENV === 'production' && isPlaceholderSecret(c.DB_ROLE_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['DB_ROLE_PASSWORD'], message: 'production needs a real password for the notifications_svc role' });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Whether webhooks may go to addresses that are not on the public internet. */
export function allowPrivateWebhookTargets(config: Pick<Config, 'APP_ENV' | 'WEBHOOK_ALLOW_PRIVATE_TARGETS'>): boolean {
  return config.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? config.APP_ENV !== 'production';
}

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Config {
  return loadConfig(configSchema, env);
}
