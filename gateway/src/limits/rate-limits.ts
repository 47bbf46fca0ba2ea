import Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { prom, type Logger, type Registry } from '@guitaronline/platform';
import type { GatewayConfig } from '../config';
import type { AuthLimit } from '../proxy/routes';
import { SyncedLimiter, type Limiter } from './synced-limiter';

export interface LimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** seconds until the window resets (≥ 1) */
  resetSeconds: number;
}

export interface RateLimits {
  /** Per client IP on register / login / refresh. */
  auth(limit: AuthLimit, ip: string): Promise<LimitResult>;
  /** Per user (token `sub`) on every other authenticated route. */
  user(userId: string): Promise<LimitResult>;
  backend: 'redis' | 'memory';
  /** Resolves when Redis answers a PING (the memory backend is always ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory stand-in used while Redis does not answer; counts how often that happens. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: ConstructorParameters<typeof RateLimiterMemory>[0],
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(...args: Parameters<RateLimiterMemory['consume']>): Promise<RateLimiterRes> {
    this.onUse();
    return super.consume(...args);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Rate limits with rate-limiter-flexible: fixed windows counted in Redis (one Lua call per
 * request, shared by every replica), or in process memory for development.
 *
 * Redis going down never stops or stalls a request: ioredis runs without an offline queue,
 * with a short connect timeout and a per-command timeout, and the limiter refuses to queue
 * while the connection is not ready. Every failed Redis call is answered by the
 * `insuranceLimiter`, a RateLimiterMemory with the same limits, so requests stay limited
 * per replica until Redis is back (counted in `gateway_rate_limit_fallback_total`).
 */
export async function createRateLimits(config: GatewayConfig, logger: Logger, metrics: Registry): Promise<RateLimits> {
  const rejected = new prom.Counter({
    name: 'gateway_rate_limited_total',
    help: 'Requests refused with 429, by limit',
    labelNames: ['limit'],
    registers: [metrics],
  });
  const fallback = new prom.Counter({
    name: 'gateway_rate_limit_fallback_total',
    help: 'Limiter calls answered by the in-memory insurance limiter because Redis did not',
    labelNames: ['limit'],
    registers: [metrics],
  });
  const failures = new prom.Counter({
    name: 'gateway_rate_limit_errors_total',
    help: 'Limiter calls that failed outright (the request was let through)',
    labelNames: ['limit'],
    registers: [metrics],
  });

  const ns = config.AUTH_RATE_LIMIT_REDIS_NAMESPACE;
  let redis: Redis | undefined;
  if (config.AUTH_RATE_LIMIT_BACKEND === 'redis') {
    redis = new Redis(config.REDIS_URL, {
      enableOfflineQueue: false,
      enableAutoPipelining: config.REDIS_AUTO_PIPELINING,
      maxRetriesPerRequest: 1,
      connectTimeout: config.REDIS_CONNECT_TIMEOUT_MS,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      // on stop: how long to wait for a half-closed socket (a dead Redis never answers the FIN)
      disconnectTimeout: 200,
    });
    let healthy = true;
    redis.on('error', (err: Error) => {
      if (healthy) logger.warn({ err: err.message }, 'redis unavailable; rate limits fall back to per-replica memory');
      healthy = false;
    });
    redis.on('ready', () => {
      if (!healthy) logger.info('redis reachable again; rate limits are shared again');
      healthy = true;
    });
    // a short wait so a healthy start counts in Redis from the first request; never fails start
    const client = redis;
    await Promise.race([new Promise<void>((resolve) => client.once('ready', () => resolve())), delay(config.REDIS_CONNECT_TIMEOUT_MS)]);
  }

  const make = (name: string, keyPrefix: string, points: number, duration: number): RateLimiterAbstract => {
    if (!redis) return new RateLimiterMemory({ keyPrefix, points, duration });
    const insurance = new InsuranceLimiter({ keyPrefix, points, duration }, () => fallback.inc({ limit: name }));
    return new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, insuranceLimiter: insurance, rejectIfRedisNotReady: true });
  };

  const authWindow = config.AUTH_RATE_LIMIT_WINDOW_SECONDS;
  const authLimiters: Record<AuthLimit, Limiter> = {
    register: make('register', `${ns}:auth:register`, config.AUTH_RATE_LIMIT_REGISTER_REQUESTS, authWindow),
    login: make('login', `${ns}:auth:login`, config.AUTH_RATE_LIMIT_LOGIN_REQUESTS, authWindow),
    refresh: make('refresh', `${ns}:auth:refresh`, config.AUTH_RATE_LIMIT_REFRESH_REQUESTS, authWindow),
  };
  // per user: counted here and added to Redis in groups (the auth limits stay exact: one Redis call per attempt)
  const sharedUserLimiter = make('user', `${ns}:user`, config.API_RATE_LIMIT_REQUESTS, config.API_RATE_LIMIT_WINDOW_SECONDS);
  const syncedUserLimiter =
    redis && config.API_RATE_LIMIT_SYNC_EVERY > 1
      ? new SyncedLimiter(sharedUserLimiter, {
          syncEvery: config.API_RATE_LIMIT_SYNC_EVERY,
          syncMs: config.API_RATE_LIMIT_SYNC_MS,
          onSyncError: (err) => {
            failures.inc({ limit: 'user' });
            logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'per-user limit sync failed; counted per replica until the next');
          },
        })
      : undefined;
  const userLimiter: Limiter = syncedUserLimiter ?? sharedUserLimiter;

  const consume = (name: string, limiter: Limiter, key: string): Promise<LimitResult> =>
    limiter.consume(key).then(
      (res) => ({ allowed: true, limit: limiter.points, remaining: res.remainingPoints, resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) }),
      (res: unknown) => {
        if (res instanceof RateLimiterRes) {
          rejected.inc({ limit: name });
          return { allowed: false, limit: limiter.points, remaining: 0, resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
        }
        // only reachable without an insurance limiter; failing open beats failing every request
        failures.inc({ limit: name });
        logger.warn({ err: res instanceof Error ? res.message : String(res), limit: name }, 'rate limiter failed; request let through');
        return { allowed: true, limit: limiter.points, remaining: limiter.points, resetSeconds: limiter.duration };
      },
    );

  return {
    backend: config.AUTH_RATE_LIMIT_BACKEND,
    auth: (limit, ip) => consume(limit, authLimiters[limit], ip),
    user: (userId) => consume('user', userLimiter, userId),
    async ping() {
      if (redis) await redis.ping();
    },
    async close() {
      await syncedUserLimiter?.close();
      if (!redis) return;
      const client = redis;
      const quit = await Promise.race([client.quit().then(() => true, () => false), delay(500).then(() => false)]);
      // QUIT answered: the server closes the socket itself; otherwise cut it
      if (!quit) client.disconnect();
    },
  };
}
