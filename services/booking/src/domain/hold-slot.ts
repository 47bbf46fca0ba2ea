import { getContext } from '@guitaronline/platform';
import type { Actor, BookingJson } from './booking';
import { bookingJson } from './booking';
import { bookingErrors } from './booking-errors';
import { heldPayload } from './booking-events';
import { holdExpiry } from './booking-rules';
import { assertSlotBookable, newBooking, recordRunOutHolds } from './booking-steps';
import type { BookingDeps } from './deps';

export interface HoldRequest {
  slotId: string;
  /** `Idempotency-Key` with the hash of the request body it came with. */
  idempotency?: { key: string; requestHash: string };
}

export interface HoldResult {
  status: number;
  body: BookingJson;
  replayed: boolean;
}

/**
 * A student holds an open slot for `holdMinutes`. One transaction, serialised per student
 * (advisory lock) so the hold limit and the idempotency key cannot be raced:
 * replay a known key → the first response (another body → 422); slot missing → 404;
 * deleted or already started → 409 slot_unavailable; a run-out hold on it is expired on the
 * way; `maxActiveHolds` live holds → 409 too_many_holds; another live booking on the slot →
 * the partial unique index refuses the insert → 409 slot_unavailable.
 * Only a success is remembered under the key: a refused hold changed nothing, so a retry may run again.
 */
export async function holdSlot(deps: BookingDeps, student: Actor, request: HoldRequest): Promise<HoldResult> {
  const { settings, clock } = deps;
  return deps.store.transaction(async (tx) => {
    // the student's lock and the slot in one round trip; the slot is judged after the key
    const slot = await tx.lockStudentAndFindSlot(student.userId, request.slotId);
    const { idempotency } = request;
    if (idempotency) {
      const prior = await tx.idempotency.find(student.userId, idempotency.key);
      if (prior) {
        if (prior.requestHash !== idempotency.requestHash) throw bookingErrors.idempotencyKeyReused();
        return { status: prior.responseStatus, body: prior.responseBody as BookingJson, replayed: true };
      }
    }
    const now = clock();
    assertSlotBookable(slot, now);

    const { runOut, activeHolds } = await tx.bookings.expireRunOutAndCountHolds(slot.id, student.userId, now);
    await recordRunOutHolds(deps, tx, runOut);
    if (activeHolds >= settings.maxActiveHolds) throw bookingErrors.tooManyHolds(settings.maxActiveHolds);

    const booking = newBooking(
      {
        slotId: slot.id,
        studentId: student.userId,
        teacherId: slot.teacherId,
        packageId: null,
        status: 'hold',
        startAt: slot.startAt,
        endAt: slot.endAt,
        holdExpiresAt: holdExpiry(now, settings.holdMinutes),
        rescheduledFromId: null,
        confirmRequestedAt: null,
        confirmAttempts: 0,
        correlationId: getContext().correlationId ?? null,
      },
      now,
    );
    // the hold and its booking.held in one statement
    const held = await tx.bookings.insert(booking, [tx.envelope('booking.held', heldPayload(booking), booking.id)]);
    const body = bookingJson(held);
    if (idempotency) await tx.idempotency.save(student.userId, idempotency.key, { requestHash: idempotency.requestHash, responseStatus: 201, responseBody: body }, now);
    return { status: 201, body, replayed: false };
  });
}
