import { runService, type KeyResolver } from '@guitaronline/platform';
import { every, startService } from '@guitaronline/service-runtime';
import { readConfig } from './config';
import { Store } from './data/store';
import type { Clock } from './domain/booking';
import { bookingHealth } from './domain/booking-queries';
import { runConfirmWatchdog } from './domain/confirm-watchdog';
import type { BookingDeps } from './domain/deps';
import { expireRunOutHolds, purgeOldIdempotencyKeys } from './domain/expire-holds';
import { SettleNotifier } from './domain/settle-notifier';
import { bookingRoutes } from './api/booking-routes';
import { bookingOpenApi } from './api/openapi';
import { opsRoutes } from './api/ops-routes';
import { schedulingRoutes } from './api/scheduling-routes';
import { billingFastPaths, billingHandlers } from './messaging/billing-handlers';
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
  return startService({
    name: 'booking',
    config,
    openapi: bookingOpenApi,
    compose: ({ db, logger, metrics }) => {
      const store = new Store(db, clock);
      const settings = {
        holdMinutes: config.BOOKING_HOLD_MINUTES,
        refundWindowHours: config.BOOKING_REFUND_WINDOW_HOURS,
        maxActiveHolds: config.BOOKING_MAX_ACTIVE_HOLDS,
        confirmTimeoutSeconds: config.BOOKING_CONFIRM_TIMEOUT_SECONDS,
        confirmMaxRequests: config.BOOKING_CONFIRM_MAX_REQUESTS,
      };
      const bookingDeps: BookingDeps = {
        store,
        clock,
        settings,
        logger,
        notifier: new SettleNotifier(),
        metrics: bookingMetrics(metrics, {
          stuckConfirming: async () => (await bookingHealth(bookingDeps)).stuckConfirming,
          staleHolds: async () => (await bookingHealth(bookingDeps)).staleHolds,
        }),
      };
      const sweepHolds = async () => {
        const expired = await expireRunOutHolds(bookingDeps, 'sweep');
        await purgeOldIdempotencyKeys(bookingDeps);
        return expired;
      };
      const runWatchdog = () => runConfirmWatchdog(bookingDeps);
      return {
        resolveKey: deps.resolveKey,
        handlers: { ...billingHandlers(bookingDeps, store), ...identityHandlers(bookingDeps, store) },
        consumer: { fastPaths: billingFastPaths(bookingDeps) },
        routes(app, { auth }) {
          app.use('/api/v1/scheduling', schedulingRoutes(bookingDeps, auth));
          app.use('/api/v1/booking', bookingRoutes(bookingDeps, auth));
          app.use(opsRoutes(bookingDeps, db, auth));
        },
        background: [
          () => every(config.BOOKING_HOLD_SWEEP_INTERVAL_MS, 'hold sweep', logger, sweepHolds),
          () => every(config.BOOKING_WATCHDOG_INTERVAL_MS, 'confirm watchdog', logger, runWatchdog),
        ],
        handle: {
          /** One run of the background hold sweep (run-out holds, then idempotency keys past retention), now. */
          sweepHolds,
          /** One run of the confirm watchdog, now. */
          runWatchdog,
        },
      };
    },
  });
}

export type BookingService = Awaited<ReturnType<typeof start>>;

if (require.main === module) void runService('booking', () => start());
