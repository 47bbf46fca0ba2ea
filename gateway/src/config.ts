import { isIP } from 'node:net';
import { z } from 'zod';
import { baseEnvShape, envBoolean, envCsv, envPort, loadConfig } from '@guitaronline/platform';

function isAddressOrSubnet(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const positiveInt = z.coerce.number().int().positive();

/**
 * The gateway's environment (DESIGN.md "Configuration names" for the fixed ones; the rest
 * are the gateway's own knobs with safe defaults).
 */
export const gatewayEnvSchema = z
  .object({
    APP_ENV: baseEnvShape.APP_ENV,
    LOG_LEVEL: baseEnvShape.LOG_LEVEL,
    SHUTDOWN_TIMEOUT_MS: baseEnvShape.SHUTDOWN_TIMEOUT_MS,
    PORT: envPort.default(8000),
    HOST: z.string().min(1).default('0.0.0.0'),

    IDENTITY_URL: z.url().default('http://127.0.0.1:8001'),
    BOOKING_URL: z.url().default('http://127.0.0.1:8002'),
    BILLING_URL: z.url().default('http://127.0.0.1:8003'),
    LESSONS_URL: z.url().default('http://127.0.0.1:8004'),
    NOTIFICATIONS_URL: z.url().default('http://127.0.0.1:8005'),
    ADMIN_URL: z.url().default('http://127.0.0.1:8006'),

    /** Unset means "the local default" outside production; production requires it with the redis backend. */
    REDIS_URL: z.url().optional(),
    /** Per Redis command; past it the limiter answers from its in-memory insurance. */
    REDIS_COMMAND_TIMEOUT_MS: positiveInt.default(250),
    REDIS_CONNECT_TIMEOUT_MS: positiveInt.default(1_000),
    /** Limiter calls of one event-loop turn share one write to Redis (fewer syscalls under load). */
    REDIS_AUTO_PIPELINING: envBoolean.default(true),

    AUTH_RATE_LIMIT_BACKEND: z.enum(['redis', 'memory']).default('redis'),
    AUTH_RATE_LIMIT_REDIS_NAMESPACE: z.string().regex(/^[A-Za-z0-9:._-]+$/).default('rl'),
    AUTH_RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
    AUTH_RATE_LIMIT_REGISTER_REQUESTS: positiveInt.default(10),
    AUTH_RATE_LIMIT_LOGIN_REQUESTS: positiveInt.default(20),
    AUTH_RATE_LIMIT_REFRESH_REQUESTS: positiveInt.default(60),
    AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: envCsv.default([]),
    AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION: envBoolean.default(false),
    API_RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
    API_RATE_LIMIT_REQUESTS: positiveInt.default(300),
    /** Redis backend: a user's requests reach the shared count in groups of this many (1: every request; limits/synced-limiter.ts). */
    API_RATE_LIMIT_SYNC_EVERY: positiveInt.default(10),
    /** …and at least this often. */
    API_RATE_LIMIT_SYNC_MS: positiveInt.default(1_000),

    /** Time to the upstream's response headers (breaker timeout) and the idle limit while streaming. */
    UPSTREAM_TIMEOUT_MS: positiveInt.default(15_000),
    UPSTREAM_MAX_SOCKETS: positiveInt.default(256),
    /** Below the services' keep-alive timeout (Node's default 5 s), so a pooled socket is never reused as the upstream closes it. */
    UPSTREAM_IDLE_SOCKET_MS: positiveInt.default(4_000),
    CIRCUIT_BREAKER_VOLUME_THRESHOLD: z.coerce.number().int().min(0).default(10),
    CIRCUIT_BREAKER_ERROR_THRESHOLD_PERCENTAGE: z.coerce.number().min(1).max(100).default(50),
    CIRCUIT_BREAKER_RESET_TIMEOUT_MS: positiveInt.default(10_000),
    CIRCUIT_BREAKER_ROLLING_WINDOW_MS: positiveInt.default(10_000),

    MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
    MAX_URL_LENGTH: positiveInt.default(2048),
    MAX_HEADER_BYTES: positiveInt.default(16 * 1024),
    HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
    HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),

    /** A verified token is remembered this long at most (never past its exp); 0 turns the cache off. */
    TOKEN_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
    TOKEN_CACHE_MAX_ENTRIES: positiveInt.default(10_000),

    OPENAPI_REFRESH_SECONDS: positiveInt.default(60),
    OPENAPI_FETCH_TIMEOUT_MS: positiveInt.default(2_000),
    READY_UPSTREAM_TIMEOUT_MS: positiveInt.default(1_000),
  })
  .superRefine((env, ctx) => {
    for (const entry of env.AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS) {
      if (!isAddressOrSubnet(entry)) {
        ctx.addIssue({ code: 'custom', path: ['AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS'], message: `"${entry}" is not an IP address or CIDR subnet` });
      }
    }
    if (env.APP_ENV !== 'production') return;
    if (env.AUTH_RATE_LIMIT_BACKEND === 'memory' && !env.AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_RATE_LIMIT_BACKEND'],
        message:
          'the memory backend keeps counts per replica; production refuses it unless AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION=true',
      });
    }
    if (env.AUTH_RATE_LIMIT_BACKEND === 'redis' && !env.REDIS_URL) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required in production with AUTH_RATE_LIMIT_BACKEND=redis' });
    }
  });

export type GatewayConfig = ReturnType<typeof readConfig>;

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env) {
  const parsed = loadConfig(gatewayEnvSchema, env);
  return { ...parsed, REDIS_URL: parsed.REDIS_URL ?? DEFAULT_REDIS_URL };
}
