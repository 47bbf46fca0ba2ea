import { getContext } from '@guitaronline/platform';
import type { Actor, Booking } from './booking';
import { bookingErrors } from './booking-errors';
import { confirmationRequestedPayload, rescheduledPayload } from './booking-events';
import { assertSlotBookable, newBooking, recordRunOutHolds } from './booking-steps';
import { cancelLiveBooking } from './cancel-booking';
import type { BookingDeps } from './deps';

/**
 * Moves a confirmed booking to another slot, in ONE transaction (EVENTS.md): the old booking
 * is canceled by the student (same refund rule, `booking.canceled`), a new booking is made on
 * the new slot directly in `confirming` (`booking.confirmation_requested`, so billing debits
 * a lesson for it), the two are linked both ways, and `booking.rescheduled` ties them.
 * A retry (the old booking already has a successor) → that successor, unchanged (`created` false).
 * New slot missing → 404; deleted, started, the same slot or taken → 409 slot_unavailable and
 * nothing changes (the old booking stays confirmed). Confirming → 409 booking_in_progress;
 * any other status → 409 invalid_transition. Someone else's booking → 404.
 */
export async function rescheduleBooking(
  deps: BookingDeps,
  student: Actor,
  bookingId: string,
  input: { newSlotId: string; packageId?: string },
): Promise<{ booking: Booking; created: boolean }> {
  return deps.store.transaction(async (tx) => {
    const old = await tx.bookings.findForUpdate(bookingId);
    if (!old || old.studentId !== student.userId) throw bookingErrors.bookingNotFound();
    if (old.rescheduledToId) {
      const successor = await tx.bookings.findById(old.rescheduledToId);
      if (!successor) throw new Error(`successor ${old.rescheduledToId} of booking ${old.id} is missing`);
      return { booking: successor, created: false };
    }
    if (old.status === 'confirming') throw bookingErrors.bookingInProgress();
    if (old.status !== 'confirmed') throw bookingErrors.invalidTransition(old.status, 'rescheduled');

    const now = deps.clock();
    if (input.newSlotId === old.slotId) throw bookingErrors.slotUnavailable('The booking is already on this slot.');
    const slot = await tx.slots.findForShare(input.newSlotId);
    assertSlotBookable(slot, now);
    await recordRunOutHolds(deps, tx, await tx.bookings.expireRunOutHoldsOnSlot(slot.id, now));

    const canceled = await cancelLiveBooking(deps, tx, old, { actor: student, reason: 'rescheduled' });
    const successor = newBooking(
      {
        slotId: slot.id,
        studentId: old.studentId,
        teacherId: slot.teacherId,
        packageId: input.packageId ?? null,
        status: 'confirming',
        startAt: slot.startAt,
        endAt: slot.endAt,
        // the successor never was a hold: it goes straight to confirming
        holdExpiresAt: now,
        rescheduledFromId: old.id,
        confirmRequestedAt: now,
        confirmAttempts: 1,
        correlationId: getContext().correlationId ?? null,
      },
      now,
    );
    // a taken slot fails here (partial unique index) and rolls the whole transaction back
    const created = await tx.bookings.insert(successor);
    const linked = await tx.bookings.transition(old.id, ['canceled'], { rescheduledToId: created.id, updatedAt: now });
    if (!linked) throw new Error(`booking ${old.id} changed under its row lock`);
    await tx.record('booking.confirmation_requested', confirmationRequestedPayload(created, canceled), created.id);
    await tx.record('booking.rescheduled', rescheduledPayload(canceled, created), created.id);
    return { booking: created, created: true };
  });
}
