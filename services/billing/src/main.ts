import type { Messaging } from '@guitaronline/messaging';
import { runService, type KeyResolver, type Knex, type Logger } from '@guitaronline/platform';
import { startService } from '@guitaronline/service-runtime';
import { billingRoutes } from './api/billing-routes';
import { internalRoutes } from './api/internal-routes';
import { billingOpenApi } from './api/openapi';
import { readConfig, SERVICE_NAME, type BillingConfig } from './config';
import { systemClock, type Clock } from './domain/clock';
import type { BillingDeps } from './domain/deps';
import { expirySweep, startExpirySweeper } from './jobs/expiry-sweeper';
import { bookingHandlers, oneBookingAtATime } from './messaging/booking-handlers';

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
  const clock = deps.clock ?? systemClock;
  const sweep = { batchSize: config.BILLING_EXPIRY_SWEEP_BATCH, idempotencyTtlHours: config.BILLING_IDEMPOTENCY_TTL_HOURS };
  return startService({
    name: SERVICE_NAME,
    config,
    pool: { max: config.DB_POOL_MAX },
    openapi: billingOpenApi,
    compose: ({ db, logger, metrics }) => {
      const useCaseDeps: BillingDeps = { db, clock, logger };
      const { handlers, fastPaths } = bookingHandlers({ db, clock, logger, metrics });
      return {
        resolveKey: deps.resolveKey,
        handlers,
        consumer: { serializeBy: oneBookingAtATime, fastPaths },
        routes(app, { auth }) {
          app.use('/api/v1/billing', billingRoutes(useCaseDeps, auth, { expiryBatchSize: config.BILLING_EXPIRY_SWEEP_BATCH }));
          app.use('/internal', internalRoutes(useCaseDeps, auth));
        },
        background: [() => startExpirySweeper(useCaseDeps, { ...sweep, intervalMs: config.BILLING_EXPIRY_SWEEP_INTERVAL_MS })],
        handle: { sweepOnce: expirySweep(useCaseDeps, sweep) },
      };
    },
  });
}

if (require.main === module) void runService(SERVICE_NAME, () => start());
