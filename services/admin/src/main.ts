import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMessaging, outboxBacklog } from '@guitaronline/messaging';
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
} from '@guitaronline/platform';
import { adminRoutes } from './api/admin-routes';
import { adminOpenApiDocument } from './api/openapi';
import { DeadLetterStore } from './clients/dead-letter-store';
import { QueueInspector, vhostOf } from './clients/queue-inspector';
import { ServiceOpsClient } from './clients/service-ops-client';
import { opsServices, opsServiceUrls, readConfig, type AdminConfig } from './config';
import { operationsOverview } from './domain/ops-overview';
import { allQueueNames, knownQueues, type ServiceQueueSet } from './domain/queue-topology';
import { eventLogHandlers } from './messaging/event-log-handlers';

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

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}): Promise<AdminService> {
  const config = readConfig(env);
  const logger = createLogger('admin', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('admin');
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'admin', rolePassword: config.DB_ROLE_PASSWORD });
  const clock = deps.clock ?? (() => new Date());
  try {
    const messaging = createMessaging({
      service: 'admin',
      knex: db,
      amqpUrl: config.AMQP_URL,
      exchange: config.EVENTS_EXCHANGE,
      queuePrefix: config.EVENTS_QUEUE_PREFIX,
      logger,
      metrics,
      handlers: eventLogHandlers(),
      retryDelaysMs: config.EVENTS_RETRY_DELAYS_MS,
      outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
      inboxRetentionHours: config.INBOX_RETENTION_HOURS,
    });
    const currentConnection = () => messaging.connection.current;
    const queueSets = knownQueues(config.EVENTS_QUEUE_PREFIX, config.EVENTS_RETRY_DELAYS_MS.length);
    const queueInspector = new QueueInspector({
      connection: currentConnection,
      managementUrl: config.RABBITMQ_MANAGEMENT_URL,
      vhost: vhostOf(config.AMQP_URL),
      timeoutMs: config.OPS_TIMEOUT_MS,
      logger,
    });
    const opsClient = new ServiceOpsClient({ urls: opsServiceUrls(config), timeoutMs: config.OPS_TIMEOUT_MS, logger, metrics });
    const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));

    const app = createHttpApp({
      service: 'admin',
      logger,
      metrics,
      readiness: [
        { name: 'postgres', check: () => db.raw('select 1') },
        { name: 'rabbitmq', check: messaging.ready },
      ],
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
    const openApi = adminOpenApiDocument();
    app.get('/openapi.json', (_req, res) => {
      res.json(openApi);
    });
    finishApp(app, logger);

    await messaging.start();
    const server = createServer(app);
    let port: number;
    try {
      port = await listen(server, config.PORT, config.HOST);
    } catch (err) {
      opsClient.shutdown();
      await messaging.stop();
      throw err;
    }
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    logger.info({ port }, 'admin listening');

    let stopped: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      port,
      config,
      db,
      queueSets,
      stop() {
        stopped ??= (async () => {
          await closeServer(server);
          opsClient.shutdown();
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

if (require.main === module) void runService('admin', () => start());
