import { every, type PeriodicJob } from '@guitaronline/service-runtime';
import { purgeIdempotencyKeys } from '../data/idempotency-repository';
import type { BillingDeps } from '../domain/deps';
import { expireAllOverdue } from '../domain/packages';
import { systemActor } from '../domain/package-rules';

export interface ExpirySweepOptions {
  batchSize: number;
  idempotencyTtlHours: number;
}

/**
 * One sweep: expires overdue active packages (so they are expired even if nobody reads them)
 * and forgets idempotency keys past their TTL. Safe with several replicas: the expiry claims
 * rows with SKIP LOCKED.
 */
export function expirySweep(deps: BillingDeps, options: ExpirySweepOptions): () => Promise<void> {
  return async () => {
    const expired = await expireAllOverdue(deps, systemActor, options.batchSize);
    const purged = await purgeIdempotencyKeys(deps.db, new Date(deps.clock().getTime() - options.idempotencyTtlHours * 3_600_000));
    if (expired > 0 || purged > 0) deps.logger.info({ expired, purgedIdempotencyKeys: purged }, 'expiry sweep');
  };
}

/** The sweep in the background, every `intervalMs` (0 = never); runs never overlap within a process. */
export function startExpirySweeper(deps: BillingDeps, options: ExpirySweepOptions & { intervalMs: number }): PeriodicJob {
  // the first run at start-up catches up with whatever became overdue while no replica was running
  return every(options.intervalMs, 'expiry sweep', deps.logger, expirySweep(deps, options), { runAtStart: true });
}
