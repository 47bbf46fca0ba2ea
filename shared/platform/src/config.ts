import { z } from 'zod';
import { DEFAULT_PREPARED_STATEMENTS } from './db';

/** Raised when the environment is missing or bad: names every offending variable. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const envBoolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envCsv = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

export const envPort = z.coerce.number().int().min(0).max(65535);

export const appEnv = z.enum(['development', 'test', 'production']);
export type AppEnv = z.infer<typeof appEnv>;

/** Variables every service reads (DESIGN.md "Configuration names"). */
export const baseEnvShape = {
  APP_ENV: appEnv.default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/guitaronline'),
  AMQP_URL: z.url().default('amqp://guest:guest@127.0.0.1:5672'),
  EVENTS_EXCHANGE: z.string().min(1).default('guitaronline.events'),
  /** Prefix for this deployment's queue names; empty in production, random per test suite. */
  EVENTS_QUEUE_PREFIX: z.string().regex(/^[a-z0-9_.-]*$/).default(''),
  IDENTITY_URL: z.url().default('http://127.0.0.1:8001'),
  /** Password of this service's own Postgres role; dev default is refused in production. */
  DB_ROLE_PASSWORD: z.string().optional(),
  /** Statement texts a service runs as prepared statements (db.ts); 0 for a pooler that cannot keep them. */
  DB_PREPARED_STATEMENTS: z.coerce.number().int().min(0).max(10_000).default(DEFAULT_PREPARED_STATEMENTS),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().default(72),
  INBOX_RETENTION_HOURS: z.coerce.number().positive().default(168),
  /**
   * Whether the consumer takes its handlers' fast paths (ConsumerOptions.fastPaths). `false`
   * while a rolling update still runs replicas of the release before the fast paths, whose
   * locked handlers do not write the rows a fast path is ordered by (deploy/README.md, Releases).
   */
  CONSUMER_FAST_PATHS: envBoolean.default(true),
};

/**
 * Parses the environment once with the service's zod schema. Empty strings count as unset,
 * so `FOO=` falls back to the default instead of failing a number parse.
 */
export function loadConfig<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): z.infer<T> {
  const cleaned: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) cleaned[key] = value === '' ? undefined : value;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: issue.path.length > 0 ? issue.path.join('.') : '(environment)',
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/** True for values a production deployment must never run with. */
export function isPlaceholderSecret(value: string | undefined): boolean {
  if (!value) return true;
  return /^change-?me/i.test(value) || /^dev-/i.test(value);
}
