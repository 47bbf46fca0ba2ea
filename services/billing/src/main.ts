import type { AddressInfo } from 'node:net';
import { createMessaging, type Messaging } from '@guitaronline/messaging';
import {
  closeServer,
  createAuth,
  createHttpApp,
  createLogger,
  createMetricsRegistry,
  createServiceDb,
  finishApp,
  jwksKeyResolver,
  runService,
  type KeyResolver,
  type Knex,
  type Logger,
} from '@guitaronline/platform';
import { billingRoutes } from './api/billing-routes';
import { internalRoutes } from './api/internal-routes';
import { billingOpenApi } from './api/openapi';
import { readConfig, type BillingConfig } from './config';
import { systemClock, type Clock } from './domain/clock';
import type { BillingDeps } from './domain/deps';
import { startExpirySweeper } from './jobs/expiry-sweeper';
import { bookingHandlers } from './messaging/booking-handlers';

export interface BillingService {
  url: string;
  port: number;
  config: BillingConfig;
  db: Knex;
  messaging: Messaging;
  logger: Logger;
  /** Runs one expiry sweep now (what the background timer does every BILLING_EXPIRY_SWEEP_INTERVAL_MS). */
  sweepOnce(): Promise<void>;
  stop(): Promise<void>;
}

export interface BillingStartDeps {
  clock?: Clock;
  resolveKey?: KeyResolver;
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: BillingStartDeps = {}): Promise<BillingService> {
  const config = readConfig(env);
  const logger = createLogger('billing', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('billing');
  const clock = deps.clock ?? systemClock;
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'billing', rolePassword: config.DB_ROLE_PASSWORD, pool: { max: config.DB_POOL_MAX } });
  const messaging = createMessaging({
    service: 'billing',
    knex: db,
    amqpUrl: config.AMQP_URL,
    exchange: config.EVENTS_EXCHANGE,
    queuePrefix: config.EVENTS_QUEUE_PREFIX,
    logger,
    metrics,
    handlers: bookingHandlers({ clock, logger, metrics }),
    outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
    inboxRetentionHours: config.INBOX_RETENTION_HOURS,
  });
  const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));
  const useCaseDeps: BillingDeps = { db, clock, logger };

  const app = createHttpApp({
    service: 'billing',
    logger,
    metrics,
    readiness: [
      { name: 'postgres', check: () => db.raw('select 1') },
      { name: 'rabbitmq', check: messaging.ready },
    ],
  });
  app.use('/api/v1/billing', billingRoutes(useCaseDeps, auth, { expiryBatchSize: config.BILLING_EXPIRY_SWEEP_BATCH }));
  app.use('/internal', internalRoutes(useCaseDeps, auth));
  const openApiDocument = billingOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  finishApp(app, logger);

  try {
    await messaging.start();
  } catch (err) {
    await messaging.stop().catch(() => undefined);
    await db.destroy();
    throw err;
  }
  const sweeper = startExpirySweeper(useCaseDeps, {
    intervalMs: config.BILLING_EXPIRY_SWEEP_INTERVAL_MS,
    batchSize: config.BILLING_EXPIRY_SWEEP_BATCH,
    idempotencyTtlHours: config.BILLING_IDEMPOTENCY_TTL_HOURS,
  });
  const server = app.listen(config.PORT, config.HOST);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await sweeper.stop();
      await messaging.stop().catch(() => undefined);
    await db.destroy();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'billing listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    db,
    messaging,
    logger,
    sweepOnce: sweeper.runOnce,
    async stop() {
      await closeServer(server);
      await sweeper.stop();
      await messaging.stop();
      await db.destroy();
    },
  };
}

if (require.main === module) void runService('billing', () => start());
