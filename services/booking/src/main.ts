import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
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
} from '@guitaronline/platform';
import { createMessaging } from '@guitaronline/messaging';
import { readConfig } from './config';
import { Store } from './data/store';
import type { Clock } from './domain/booking';
import { bookingHealth } from './domain/booking-queries';
import { runConfirmWatchdog } from './domain/confirm-watchdog';
import type { BookingDeps } from './domain/deps';
import { expireRunOutHolds, purgeOldIdempotencyKeys } from './domain/expire-holds';
import { every } from './domain/periodic';
import { SettleNotifier } from './domain/settle-notifier';
import { bookingRoutes } from './api/booking-routes';
import { bookingOpenApi } from './api/openapi';
import { opsRoutes } from './api/ops-routes';
import { schedulingRoutes } from './api/scheduling-routes';
import { billingHandlers } from './messaging/billing-handlers';
import { identityHandlers } from './messaging/identity-handlers';
import { bookingMetrics } from './metrics';

export interface StartDeps {
  /** Every time rule (hold expiry, refund window, watchdog, future slots) reads this clock. */
  clock?: Clock;
  resolveKey?: KeyResolver;
}

/** Starts the booking service: HTTP API, outbox relay, billing consumer, hold sweep and confirm watchdog. */
export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}) {
  const config = readConfig(env);
  const clock: Clock = deps.clock ?? (() => new Date());
  const logger = createLogger('booking', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('booking');
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'booking', rolePassword: config.DB_ROLE_PASSWORD });
  const store = new Store(db, clock);
  const notifier = new SettleNotifier();
  const settings = {
    holdMinutes: config.BOOKING_HOLD_MINUTES,
    refundWindowHours: config.BOOKING_REFUND_WINDOW_HOURS,
    maxActiveHolds: config.BOOKING_MAX_ACTIVE_HOLDS,
    confirmTimeoutSeconds: config.BOOKING_CONFIRM_TIMEOUT_SECONDS,
    confirmMaxRequests: config.BOOKING_CONFIRM_MAX_REQUESTS,
  };
  const partial = { store, clock, settings, logger, notifier } as Omit<BookingDeps, 'metrics'>;
  const bookingDeps: BookingDeps = {
    ...partial,
    metrics: bookingMetrics(metrics, {
      stuckConfirming: async () => (await bookingHealth(bookingDeps)).stuckConfirming,
      staleHolds: async () => (await bookingHealth(bookingDeps)).staleHolds,
    }),
  };

  const messaging = createMessaging({
    service: 'booking',
    knex: db,
    amqpUrl: config.AMQP_URL,
    exchange: config.EVENTS_EXCHANGE,
    queuePrefix: config.EVENTS_QUEUE_PREFIX,
    logger,
    metrics,
    handlers: { ...billingHandlers(bookingDeps, store), ...identityHandlers(bookingDeps, store) },
    outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
    inboxRetentionHours: config.INBOX_RETENTION_HOURS,
  });
  const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));

  const app = createHttpApp({
    service: 'booking',
    logger,
    metrics,
    readiness: [
      { name: 'postgres', check: () => db.raw('select 1') },
      { name: 'rabbitmq', check: messaging.ready },
    ],
  });
  app.use('/api/v1/scheduling', schedulingRoutes(bookingDeps, auth));
  app.use('/api/v1/booking', bookingRoutes(bookingDeps, auth));
  app.use(opsRoutes(bookingDeps, db, auth));
  const openapi = bookingOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  finishApp(app, logger);

  let server: Server | undefined;
  try {
    await messaging.start();
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.PORT, config.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
    });
  } catch (err) {
    await messaging.stop().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    throw err;
  }

  const sweepHolds = async () => {
    const expired = await expireRunOutHolds(bookingDeps, 'sweep');
    await purgeOldIdempotencyKeys(bookingDeps);
    return expired;
  };
  const sweep = every(config.BOOKING_HOLD_SWEEP_INTERVAL_MS, 'hold sweep', logger, sweepHolds);
  const watchdog = every(config.BOOKING_WATCHDOG_INTERVAL_MS, 'confirm watchdog', logger, () => runConfirmWatchdog(bookingDeps));

  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'booking service listening');
  const running = server;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    db,
    messaging,
    metrics,
    /** One run of the background hold sweep (run-out holds, then idempotency keys past retention), now. */
    sweepHolds,
    /** One run of the confirm watchdog, now. */
    runWatchdog: () => runConfirmWatchdog(bookingDeps),
    async stop() {
      await closeServer(running);
      await Promise.all([sweep.stop(), watchdog.stop()]);
      await messaging.stop();
      await db.destroy();
    },
  };
}

export type BookingService = Awaited<ReturnType<typeof start>>;

if (require.main === module) void runService('booking', () => start());
