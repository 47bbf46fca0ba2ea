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
import { notificationRoutes } from './api/notification-routes';
import { buildOpenApiDocument } from './api/openapi';
import { OutboundChannels } from './channels/delivery-channels';
import { EmailChannel } from './channels/email-channel';
import { WebhookChannel } from './channels/webhook-channel';
import { PgDeliveryStore, purgeSettledHistory } from './data/delivery-repository';
import { pgWebhookStore } from './data/webhook-repository';
import { deliveryMetrics } from './delivery-metrics';
import { systemClock, type Clock } from './domain/clock';
import { DeliveryWorker } from './domain/delivery-worker';
import { WebhookSubscriptions } from './domain/webhook-subscriptions';
import { notificationHandlers } from './messaging/notification-handlers';

export const SERVICE = 'notifications';

export interface StartDeps {
  clock?: Clock;
  resolveKey?: KeyResolver;
  /** Randomness of the backoff jitter (tests may pin it). */
  random?: () => number;
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}) {
  const config = readConfig(env);
  const clock = deps.clock ?? systemClock;
  const logger = createLogger(SERVICE, { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry(SERVICE);
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: SERVICE, rolePassword: config.DB_ROLE_PASSWORD });

  const breaker = { resetMs: config.NOTIFY_BREAKER_RESET_MS, volumeThreshold: config.NOTIFY_BREAKER_VOLUME_THRESHOLD, errorPercent: config.NOTIFY_BREAKER_ERROR_PERCENT };
  const email = new EmailChannel({ smtpUrl: config.SMTP_URL, from: config.SMTP_FROM, timeoutMs: config.SMTP_TIMEOUT_MS, breaker });
  const webhookChannel = new WebhookChannel({ timeoutMs: config.WEBHOOK_TIMEOUT_MS, breaker, clock });
  const worker = new DeliveryWorker({
    store: new PgDeliveryStore(db),
    channels: new OutboundChannels(email, webhookChannel, config.NOTIFY_BREAKER_RESET_MS),
    clock,
    logger: logger.child({ component: 'delivery-worker' }),
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    backoff: { baseMs: config.NOTIFY_BACKOFF_BASE_MS, maxMs: config.NOTIFY_BACKOFF_MAX_MS },
    intervalMs: config.NOTIFY_WORKER_INTERVAL_MS,
    batchSize: config.NOTIFY_WORKER_BATCH,
    leaseMs: config.NOTIFY_SEND_LEASE_MS,
    outcomes: deliveryMetrics(metrics, db),
    random: deps.random,
  });

  const messaging = createMessaging({
    service: SERVICE,
    knex: db,
    amqpUrl: config.AMQP_URL,
    exchange: config.EVENTS_EXCHANGE,
    queuePrefix: config.EVENTS_QUEUE_PREFIX,
    logger,
    metrics,
    handlers: notificationHandlers({ clock, onDeliveriesDue: () => worker.wake() }),
    outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
    inboxRetentionHours: config.INBOX_RETENTION_HOURS,
  });

  const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));
  const webhooks = new WebhookSubscriptions(pgWebhookStore(db), clock, (id) => webhookChannel.forget(id));
  const app = createHttpApp({
    service: SERVICE,
    logger,
    metrics,
    readiness: [
      { name: 'postgres', check: () => db.raw('select 1') },
      { name: 'rabbitmq', check: messaging.ready },
    ],
  });
  app.use(notificationRoutes({ db, auth, clock, webhooks }));
  const openApi = buildOpenApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  finishApp(app, logger);

  try {
    await messaging.start();
  } catch (err) {
    email.close();
    await db.destroy();
    throw err;
  }
  worker.start();
  const purge = async () => {
    const before = new Date(clock().getTime() - config.NOTIFY_RETENTION_DAYS * 86_400_000);
    const purged = await purgeSettledHistory(db, before);
    logger.info({ ...purged, before }, 'settled notification history purged');
    return purged;
  };
  const purgeTimer = setInterval(() => void purge().catch((err) => logger.warn({ err }, 'notification purge failed')), config.NOTIFY_PURGE_INTERVAL_MS);
  purgeTimer.unref();
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.PORT, config.HOST, () => resolve(s));
      s.once('error', reject);
    });
  } catch (err) {
    clearInterval(purgeTimer);
    await worker.stop();
    await messaging.stop();
    email.close();
    await db.destroy();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'notifications listening');

  let stopped = false;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    db,
    worker,
    metrics,
    config,
    /** Runs the retention purge now (it also runs every NOTIFY_PURGE_INTERVAL_MS). */
    purge,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(purgeTimer);
      await closeServer(server);
      // no new events, then every send in flight is marked, then the relay publishes what
      // those marks recorded and the connection closes
      await messaging.consumer?.stop();
      await worker.stop();
      await messaging.stop();
      email.close();
      webhookChannel.close();
      await db.destroy();
    },
  };
}

export type NotificationsService = Awaited<ReturnType<typeof start>>;

if (require.main === module) void runService(SERVICE, () => start());
