import { confirmationRequestedPayload, rejectedPayload } from './booking-events';
import { confirmDeadline, watchdogActionFor } from './booking-rules';
import type { BookingDeps } from './deps';

const BATCH = 100;
export const CONFIRMATION_TIMEOUT_REASON = 'confirmation_timeout';

/**
 * No saga hangs silently (DESIGN.md rule 13): a booking confirming for longer than
 * `confirmTimeoutSeconds` since its last request is asked for again
 * (`booking.confirmation_requested` with attempt n+1, same correlation id) until
 * `confirmMaxRequests` requests were made, then rejected with `confirmation_timeout`
 * (`booking.rejected`, the slot is open again). If billing's debit still arrives after that,
 * the debited handler compensates (see applyDebit). Rows another replica holds are skipped.
 */
export async function runConfirmWatchdog(deps: BookingDeps): Promise<{ reRequested: number; rejected: number }> {
  const result = { reRequested: 0, rejected: 0 };
  for (;;) {
    const now = deps.clock();
    const handled = await deps.store.transaction(async (tx) => {
      const stuck = await tx.bookings.claimStuckConfirming(confirmDeadline(now, deps.settings.confirmTimeoutSeconds), BATCH);
      for (const booking of stuck) {
        const action = watchdogActionFor(booking.confirmAttempts, deps.settings.confirmMaxRequests);
        const log = deps.logger.child({ bookingId: booking.id, attempts: booking.confirmAttempts, correlationId: booking.correlationId });
        if (action === 're_requested') {
          const again = await tx.bookings.transition(booking.id, ['confirming'], { confirmAttempts: booking.confirmAttempts + 1, confirmRequestedAt: now, updatedAt: now });
          if (!again) continue;
          // a reschedule's successor names its predecessor again, as the first request did
          const predecessor = again.rescheduledFromId ? await tx.bookings.findById(again.rescheduledFromId) : undefined;
          await tx.record('booking.confirmation_requested', confirmationRequestedPayload(again, predecessor), again.id, { correlationId: again.correlationId });
          log.warn('booking stuck in confirming; confirmation requested again');
          result.reRequested += 1;
        } else {
          const rejected = await tx.bookings.transition(booking.id, ['confirming'], { status: 'rejected', rejectReason: CONFIRMATION_TIMEOUT_REASON, updatedAt: now });
          if (!rejected) continue;
          await tx.record('booking.rejected', rejectedPayload(rejected, CONFIRMATION_TIMEOUT_REASON), rejected.id, { correlationId: rejected.correlationId });
          tx.afterCommit(() => deps.notifier.settled(rejected.id));
          log.error('booking stuck in confirming after every request; rejected');
          result.rejected += 1;
        }
        tx.afterCommit(() => deps.metrics.watchdog(action));
      }
      return stuck.length;
    });
    if (handled < BATCH) break;
  }
  return result;
}
