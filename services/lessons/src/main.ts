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
import { internalRoutes } from './api/internal-routes';
import { lessonsRoutes } from './api/lessons-routes';
import { lessonsOpenApi } from './api/openapi';
import { readConfig, type LessonsConfig } from './config';
import { systemClock, type Clock } from './domain/clock';
import { bookingHandlers } from './messaging/booking-handlers';

export interface LessonsService {
  url: string;
  port: number;
  config: LessonsConfig;
  db: Knex;
  messaging: Messaging;
  logger: Logger;
  stop(): Promise<void>;
}

export interface LessonsStartDeps {
  clock?: Clock;
  resolveKey?: KeyResolver;
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: LessonsStartDeps = {}): Promise<LessonsService> {
  const config = readConfig(env);
  const logger = createLogger('lessons', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('lessons');
  const clock = deps.clock ?? systemClock;
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'lessons', rolePassword: config.DB_ROLE_PASSWORD, pool: { max: config.DB_POOL_MAX } });
  const messaging = createMessaging({
    service: 'lessons',
    knex: db,
    amqpUrl: config.AMQP_URL,
    exchange: config.EVENTS_EXCHANGE,
    queuePrefix: config.EVENTS_QUEUE_PREFIX,
    logger,
    metrics,
    handlers: bookingHandlers({ clock, logger }),
    outboxRetentionHours: config.OUTBOX_RETENTION_HOURS,
    inboxRetentionHours: config.INBOX_RETENTION_HOURS,
  });
  const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${config.IDENTITY_URL}/.well-known/jwks.json`));

  const app = createHttpApp({
    service: 'lessons',
    logger,
    metrics,
    readiness: [
      { name: 'postgres', check: () => db.raw('select 1') },
      { name: 'rabbitmq', check: messaging.ready },
    ],
  });
  app.use('/api/v1/lessons', lessonsRoutes({ db, clock, logger }, auth));
  app.use('/internal', internalRoutes(db, auth));
  const openApiDocument = lessonsOpenApi();
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
  const server = app.listen(config.PORT, config.HOST);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await messaging.stop().catch(() => undefined);
    await db.destroy();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, 'lessons listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    db,
    messaging,
    logger,
    async stop() {
      await closeServer(server);
      await messaging.stop();
      await db.destroy();
    },
  };
}

if (require.main === module) void runService('lessons', () => start());
