import { expiredPayload } from './booking-events';
import type { BookingDeps } from './deps';

const BATCH = 200;

/**
 * Marks every hold whose time has run out as expired (`booking.expired`; the slot is open
 * again), in batches that skip rows another replica is already expiring. Used by the
 * background sweep and the admin endpoint; returns how many holds it expired.
 */
export async function expireRunOutHolds(deps: BookingDeps, trigger: 'sweep' | 'admin'): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock();
    const count = await deps.store.transaction(async (tx) => {
      const expired = await tx.bookings.expireRunOutHolds(now, BATCH);
      for (const b of expired) await tx.record('booking.expired', expiredPayload(b), b.id, { correlationId: b.correlationId });
      return expired.length;
    });
    total += count;
    if (count < BATCH) break;
  }
  if (total > 0) {
    deps.metrics.holdsExpired(trigger, total);
    deps.logger.info({ expired: total, trigger }, 'run-out holds expired');
  }
  return total;
}

/** Idempotency keys older than this are forgotten (a client retries within minutes, not days). */
export const IDEMPOTENCY_KEY_RETENTION_MS = 24 * 3_600_000;

export async function purgeOldIdempotencyKeys(deps: BookingDeps): Promise<number> {
  const cutoff = new Date(deps.clock().getTime() - IDEMPOTENCY_KEY_RETENTION_MS);
  return deps.store.transaction((tx) => tx.idempotency.purgeOlderThan(cutoff));
}
