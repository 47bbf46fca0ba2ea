import type { Messaging } from '@guitaronline/messaging';
import { runService, type KeyResolver, type Knex, type Logger } from '@guitaronline/platform';
import { startService } from '@guitaronline/service-runtime';
import { internalRoutes } from './api/internal-routes';
import { lessonsRoutes } from './api/lessons-routes';
import { lessonsOpenApi } from './api/openapi';
import { readConfig, type LessonsConfig } from './config';
import { systemClock, type Clock } from './domain/clock';
import { bookingFastPaths, bookingHandlers, oneBookingAtATime } from './messaging/booking-handlers';

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
  const clock = deps.clock ?? systemClock;
  return startService({
    name: 'lessons',
    config,
    pool: { max: config.DB_POOL_MAX },
    openapi: lessonsOpenApi,
    compose: ({ db, logger }) => ({
      resolveKey: deps.resolveKey,
      handlers: bookingHandlers({ clock, logger }),
      consumer: { serializeBy: oneBookingAtATime, fastPaths: bookingFastPaths({ db, clock }) },
      routes(app, { auth }) {
        app.use('/api/v1/lessons', lessonsRoutes({ db, clock, logger }, auth));
        app.use('/internal', internalRoutes(db, auth));
      },
    }),
  });
}

if (require.main === module) void runService('lessons', () => start());
