import type { EventConsumer } from '@guitaronline/messaging';
import { runService, type KeyResolver } from '@guitaronline/platform';
import { every, startService } from '@guitaronline/service-runtime';
import { allowPrivateWebhookTargets, readConfig } from './config';
import { notificationRoutes } from './api/notification-routes';
import { buildOpenApiDocument } from './api/openapi';
import { OutboundChannels } from './channels/delivery-channels';
import { EmailChannel } from './channels/email-channel';
import { WebhookChannel } from './channels/webhook-channel';
import { checkWebhookTarget } from './channels/webhook-targets';
import { PgDeliveryStore, purgeSettledHistory } from './data/delivery-repository';
import { subscribedEventTypes } from './data/webhook-repository';
import { deliveryMetrics } from './delivery-metrics';
import { systemClock, type Clock } from './domain/clock';
import { DeliveryWorker } from './domain/delivery-worker';
import { WebhookSubscriptions } from './domain/webhook-subscriptions';
import { reconcileRouting, routedEventTypes, routedWebhookStore, type Router } from './messaging/event-routing';
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
  return startService({
    name: SERVICE,
    config,
    openapi: buildOpenApiDocument,
    compose: async ({ db, logger, metrics, onStop }) => {
      const breaker = { resetMs: config.NOTIFY_BREAKER_RESET_MS, volumeThreshold: config.NOTIFY_BREAKER_VOLUME_THRESHOLD, errorPercent: config.NOTIFY_BREAKER_ERROR_PERCENT };
      const email = new EmailChannel({ smtpUrl: config.SMTP_URL, from: config.SMTP_FROM, timeoutMs: config.SMTP_TIMEOUT_MS, breaker });
      onStop(() => email.close());
      const allowPrivateTargets = allowPrivateWebhookTargets(config);
      const webhookChannel = new WebhookChannel({ timeoutMs: config.WEBHOOK_TIMEOUT_MS, breaker, clock, allowPrivateTargets });
      onStop(() => webhookChannel.close());
      // stopped after the consumer (no new events), before the relay drains: it publishes what the worker's last sends recorded
      const worker = new DeliveryWorker({
        store: new PgDeliveryStore(db, { markLingerMs: config.NOTIFY_MARK_LINGER_MS, markBatch: config.NOTIFY_WORKER_BATCH }),
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
      const subscribed = await subscribedEventTypes(db);
      // the queue's bindings, through the consumer (there once the routes are mounted)
      let consumer: EventConsumer | undefined;
      const router: Router = {
        bind: (types) => consumer!.bind(types),
        unbind: (types) => consumer!.unbind(types),
      };
      const handling = notificationHandlers({
        clock,
        onDeliveriesDue: () => worker.wake(),
        // e-mails are made claimed for this worker and sent once their transaction commits
        sender: worker,
      });
      const purge = async () => {
        const before = new Date(clock().getTime() - config.NOTIFY_RETENTION_DAYS * 86_400_000);
        const purged = await purgeSettledHistory(db, before);
        logger.info({ ...purged, before }, 'settled notification history purged');
        return purged;
      };
      return {
        resolveKey: deps.resolveKey,
        handlers: handling.handlers,
        consumer: {
          handleBatch: handling.handleBatch,
          // the queue gets the types that notify people and those live webhooks name; a new
          // subscription binds its types before it is stored, the last one naming a type unbinds it
          bindings: routedEventTypes(subscribed),
          // one transaction per burst of events
          batch: 50,
          batchLingerMs: config.NOTIFY_CONSUMER_LINGER_MS,
        },
        routes(app, { auth, messaging }) {
          consumer = messaging.consumer;
          const webhooks = new WebhookSubscriptions({
            store: routedWebhookStore(db, router, logger),
            clock,
            onDeleted: (id) => webhookChannel.forget(id),
            checkTarget: allowPrivateTargets ? undefined : checkWebhookTarget,
          });
          app.use(notificationRoutes({ db, auth, clock, webhooks }));
        },
        background: [
          () => {
            // bindings an earlier version (or a failed unbind) left beyond what is needed go
            const reconciled = reconcileRouting(db, router).then(
              ({ bound, unbound }) => logger.info({ bound: bound.length, unbound: unbound.length }, 'event routing reconciled'),
              (err: unknown) => logger.warn({ err: (err as Error).message }, 'event routing not reconciled; extra bindings stay until the next start'),
            );
            return { stop: () => reconciled };
          },
          () => {
            worker.start();
            return worker;
          },
          () => every(config.NOTIFY_PURGE_INTERVAL_MS, 'notification purge', logger, purge),
        ],
        handle: {
          worker,
          /** Runs the retention purge now (it also runs every NOTIFY_PURGE_INTERVAL_MS). */
          purge,
        },
      };
    },
  });
}

export type NotificationsService = Awaited<ReturnType<typeof start>>;

if (require.main === module) void runService(SERVICE, () => start());
