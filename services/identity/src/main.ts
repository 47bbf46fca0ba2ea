import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMessaging } from '@guitaronline/messaging';
import {
  closeServer,
  createAuth,
  createHttpApp,
  createLogger,
  createMetricsRegistry,
  createServiceDb,
  finishApp,
  prom,
  runService,
  type Knex,
} from '@guitaronline/platform';
import { identityOpenApi } from './api/openapi';
import { identityRoutes } from './api/identity-routes';
import { normalisePem, readConfig, type IdentityConfig } from './config';
import { purgeExpiredTokens } from './data/refresh-token-repository';
import { bootstrapAdmin } from './domain/admins';
import type { IdentityDeps, IdentityObserver } from './domain/identity-deps';
import { loadSigningKeys } from './domain/load-signing-keys';
import { createPasswordHasher } from './domain/passwords';
import type { KeySet } from './domain/signing-keys';

export interface StartDeps {
  /** Injectable clock for token issue/expiry times (tests move it instead of sleeping). */
  clock?: () => Date;
}

export interface IdentityService {
  url: string;
  port: number;
  config: IdentityConfig;
  db: Knex;
  keys: KeySet;
  stop(): Promise<void>;
}

const PURGE_INTERVAL_MS = 60 * 60_000;
const PURGE_GRACE_MS = 24 * 60 * 60_000;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}): Promise<IdentityService> {
  const config = readConfig(env);
  const logger = createLogger('identity', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('identity');
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'identity', rolePassword: config.DB_ROLE_PASSWORD });
  const clock = deps.clock ?? (() => new Date());
  try {
    const keys = await loadSigningKeys(db, { pem: config.JWT_PRIVATE_KEY && normalisePem(config.JWT_PRIVATE_KEY), kid: config.JWT_KEY_ID });
    const hasher = createPasswordHasher(config.BCRYPT_COST);

    const logins = new prom.Counter({ name: 'identity_logins_total', help: 'Login attempts by outcome', labelNames: ['outcome'], registers: [metrics] });
    const reuses = new prom.Counter({ name: 'identity_refresh_token_reuse_total', help: 'Spent refresh tokens presented again (family revoked)', registers: [metrics] });
    const observer: IdentityObserver = {
      login: (outcome) => logins.inc({ outcome }),
      refreshReuse: () => {
        reuses.inc();
        logger.warn('refresh token reused: family revoked');
      },
    };
    const identity: IdentityDeps = {
      db,
      clock,
      hasher,
      keys,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS,
      observer,
    };

    if (config.BOOTSTRAP_ADMIN_EMAIL && config.BOOTSTRAP_ADMIN_PASSWORD) {
      const { user, outcome } = await bootstrapAdmin(identity, { email: config.BOOTSTRAP_ADMIN_EMAIL, password: config.BOOTSTRAP_ADMIN_PASSWORD });
      if (outcome !== 'skipped') logger.info({ userId: user?.id, outcome }, 'bootstrap admin ready');
    }

    const messaging = createMessaging({
      service: 'identity',
      knex: db,
      amqpUrl: config.AMQP_URL,
      exchange: config.EVENTS_EXCHANGE,
      queuePrefix: config.EVENTS_QUEUE_PREFIX,
      logger,
      metrics,
      outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
      inboxRetentionHours: config.INBOX_RETENTION_HOURS,
    });
    const auth = createAuth(keys.resolveKey);
    const app = createHttpApp({
      service: 'identity',
      logger,
      metrics,
      readiness: [
        { name: 'postgres', check: () => db.raw('select 1') },
        { name: 'rabbitmq', check: messaging.ready },
      ],
    });
    app.use(identityRoutes(identity, auth));
    const openApi = identityOpenApi();
    app.get('/openapi.json', (_req, res) => {
      res.json(openApi);
    });
    finishApp(app, logger);

    await messaging.start();
    const purge = setInterval(() => {
      purgeExpiredTokens(db, new Date(clock().getTime() - PURGE_GRACE_MS)).catch((err) => logger.warn({ err }, 'refresh token purge failed'));
    }, PURGE_INTERVAL_MS);
    purge.unref();

    const server = createServer(app);
    let port: number;
    try {
      port = await listen(server, config.PORT, config.HOST);
    } catch (err) {
      clearInterval(purge);
      await messaging.stop();
      throw err;
    }
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    logger.info({ port, kid: keys.active.kid }, 'identity listening');

    let stopped: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      port,
      config,
      db,
      keys,
      stop() {
        stopped ??= (async () => {
          clearInterval(purge);
          await closeServer(server);
          await messaging.stop();
          await db.destroy();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

if (require.main === module) void runService('identity', () => start());
