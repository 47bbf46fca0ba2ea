import { purgeIdempotencyKeys } from '../data/idempotency-repository';
import type { BillingDeps } from '../domain/deps';
import { expireAllOverdue } from '../domain/packages';
import { systemActor } from '../domain/package-rules';

/**
 * Background sweep: expires overdue active packages (so they are expired even if nobody reads
 * them) and forgets idempotency keys past their TTL. Safe with several replicas: the expiry
 * claims rows with SKIP LOCKED. Runs never overlap within a process.
 */
export function startExpirySweeper(deps: BillingDeps, options: { intervalMs: number; batchSize: number; idempotencyTtlHours: number }) {
  let running: Promise<void> | undefined;
  const runOnce = async () => {
    const expired = await expireAllOverdue(deps, systemActor, options.batchSize);
    const purged = await purgeIdempotencyKeys(deps.db, new Date(deps.clock().getTime() - options.idempotencyTtlHours * 3_600_000));
    if (expired > 0 || purged > 0) deps.logger.info({ expired, purgedIdempotencyKeys: purged }, 'expiry sweep');
  };
  const tick = () => {
    if (running) return;
    running = runOnce()
      .catch((err) => deps.logger.warn({ err }, 'expiry sweep failed; next run retries'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = options.intervalMs > 0 ? setInterval(tick, options.intervalMs) : undefined;
  timer?.unref();
  // catch up at start-up with whatever became overdue while no replica was running
  if (timer) setImmediate(tick);
  return {
    /** One sweep now (tests, and the first run at start-up). */
    runOnce,
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
