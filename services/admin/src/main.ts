import { outboxBacklog } from '@guitaronline/messaging';
import { runService, type KeyResolver, type Knex } from '@guitaronline/platform';
import { startService } from '@guitaronline/service-runtime';
import { adminRoutes } from './api/admin-routes';
import { adminOpenApiDocument } from './api/openapi';
import { DeadLetterStore } from './clients/dead-letter-store';
import { QueueInspector, vhostOf } from './clients/queue-inspector';
import { ServiceOpsClient } from './clients/service-ops-client';
import { opsServices, opsServiceUrls, readConfig, type AdminConfig } from './config';
import { operationsOverview } from './domain/ops-overview';
import { allQueueNames, knownQueues, type ServiceQueueSet } from './domain/queue-topology';
import { eventLogHandlers, logAndApplyEvents } from './messaging/event-log-handlers';

export interface StartDeps {
  /** Injectable clock for the times admin stamps itself (admin actions, ops asOf). */
  clock?: () => Date;
  /** Token key resolver; defaults to identity's JWKS at `${IDENTITY_URL}/.well-known/jwks.json`. */
  resolveKey?: KeyResolver;
}

export interface AdminService {
  url: string;
  port: number;
  config: AdminConfig;
  db: Knex;
  queueSets: readonly ServiceQueueSet[];
  stop(): Promise<void>;
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}): Promise<AdminService> {
  const config = readConfig(env);
  const clock = deps.clock ?? (() => new Date());
  return startService({
    name: 'admin',
    config,
    messaging: { retryDelaysMs: config.EVENTS_RETRY_DELAYS_MS },
    openapi: adminOpenApiDocument,
    compose: ({ db, logger, metrics, onStop }) => {
      const queueSets = knownQueues(config.EVENTS_QUEUE_PREFIX, config.EVENTS_RETRY_DELAYS_MS.length);
      const opsClient = new ServiceOpsClient({ urls: opsServiceUrls(config), timeoutMs: config.OPS_TIMEOUT_MS, logger, metrics });
      onStop(() => opsClient.shutdown());
      return {
        resolveKey: deps.resolveKey,
        handlers: eventLogHandlers(),
        // one transaction and one log insert per burst of events: the log and the KPI read model
        // are many small writes; a read model may lag by the linger
        consumer: { batch: 50, batchLingerMs: config.ADMIN_CONSUMER_LINGER_MS, handleBatch: logAndApplyEvents },
        routes(app, { auth, messaging }) {
          const currentConnection = () => messaging.connection.current;
          const queueInspector = new QueueInspector({
            connection: currentConnection,
            managementUrl: config.RABBITMQ_MANAGEMENT_URL,
            vhost: vhostOf(config.AMQP_URL),
            timeoutMs: config.OPS_TIMEOUT_MS,
            logger,
          });
          app.use(
            '/api/v1/admin',
            adminRoutes({
              db,
              auth,
              logger,
              clock,
              queueSets,
              deadLetters: new DeadLetterStore(currentConnection, logger),
              opsOverview: (authorization) =>
                operationsOverview({
                  ownOutbox: () => outboxBacklog(db),
                  askServices: () => opsClient.askAll(opsServices, authorization),
                  queueSnapshot: () => queueInspector.snapshot(allQueueNames(queueSets)),
                  queueSets,
                  now: clock,
                  timeoutMs: config.OPS_TIMEOUT_MS,
                }),
            }),
          );
        },
        handle: { queueSets },
      };
    },
  });
}

if (require.main === module) void runService('admin', () => start());
