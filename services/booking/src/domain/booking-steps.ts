import { randomUUID } from 'node:crypto';
import type { Tx } from '../data/store';
import type { Booking, Slot } from './booking';
import { bookingErrors } from './booking-errors';
import { expiredPayload } from './booking-events';
import type { BookingDeps } from './deps';

/** Steps the use cases that put a booking on a slot share (hold, reschedule, withdrawing a slot). */

/** A slot a new booking may take: it exists (404), is not withdrawn and has not started (409 slot_unavailable). */
export function assertSlotBookable(slot: Slot | undefined, now: Date): asserts slot is Slot {
  if (!slot) throw bookingErrors.slotNotFound();
  if (slot.deletedAt) throw bookingErrors.slotUnavailable('The slot has been withdrawn by the teacher.');
  if (slot.startAt.getTime() <= now.getTime()) throw bookingErrors.slotUnavailable('The slot has already started.');
}

/** Holds whose time ran out, expired on the way by this transaction: their events and the lazy-expiry count. */
export async function recordRunOutHolds(deps: Pick<BookingDeps, 'metrics'>, tx: Tx, runOut: readonly Booking[]): Promise<void> {
  for (const b of runOut) await tx.record('booking.expired', expiredPayload(b), b.id, { correlationId: b.correlationId });
  if (runOut.length > 0) deps.metrics.holdsExpired('lazy', runOut.length);
}

/** A booking as it is first written: what the use case decides, every later field still empty. */
export function newBooking(
  fields: Pick<Booking, 'slotId' | 'studentId' | 'teacherId' | 'packageId' | 'status' | 'startAt' | 'endAt' | 'holdExpiresAt' | 'rescheduledFromId' | 'confirmRequestedAt' | 'confirmAttempts' | 'correlationId'>,
  now: Date,
): Booking {
  return {
    ...fields,
    id: randomUUID(),
    refundable: null,
    rejectReason: null,
    cancelReason: null,
    canceledBy: null,
    canceledById: null,
    rescheduledToId: null,
    confirmedAt: null,
    canceledAt: null,
    compensatedAt: null,
    createdAt: now,
    updatedAt: now,
  };
}
