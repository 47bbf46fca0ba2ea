import type { Actor, Booking } from './booking';
import { bookingErrors } from './booking-errors';
import { canceledPayload } from './booking-events';
import { canSeeBooking, decideRefundable } from './booking-rules';
import type { BookingDeps } from './deps';
import type { Tx } from '../data/store';

/**
 * Cancels a booking (the cancel saga, EVENTS.md) by its student, the slot's teacher or an admin;
 * anyone else gets a 404. `refundable` is decided here, once (see decideRefundable), and
 * travels in `booking.canceled` for billing (credit) and lessons (cancel the lesson).
 * Already canceled → unchanged, no second event. Confirming → 409 booking_in_progress (the
 * debit is in flight; cancel once it settles). Rejected or expired → 409 invalid_transition.
 */
export async function cancelBooking(deps: BookingDeps, actor: Actor, bookingId: string, reason: string | null): Promise<Booking> {
  return deps.store.transaction(async (tx) => {
    const booking = await tx.bookings.findForUpdate(bookingId);
    if (!booking || !canSeeBooking(actor, booking)) throw bookingErrors.bookingNotFound();
    if (booking.status === 'canceled') return booking;
    if (booking.status === 'confirming') throw bookingErrors.bookingInProgress();
    if (booking.status === 'rejected' || booking.status === 'expired') throw bookingErrors.invalidTransition(booking.status, 'canceled');
    return cancelLiveBooking(deps, tx, booking, { actor, reason });
  });
}

/** hold/confirmed → canceled with the refund decision and its event; shared with reschedule. */
export async function cancelLiveBooking(deps: BookingDeps, tx: Tx, booking: Booking, cancel: { actor: Actor; reason: string | null }): Promise<Booking> {
  const now = deps.clock();
  const wasConfirmed = booking.status === 'confirmed';
  const refundable = decideRefundable({
    wasConfirmed,
    canceledBy: cancel.actor.role,
    startAt: booking.startAt,
    now,
    windowHours: deps.settings.refundWindowHours,
  });
  const canceled = await tx.bookings.transition(booking.id, ['hold', 'confirmed'], {
    status: 'canceled',
    refundable,
    cancelReason: cancel.reason,
    canceledBy: cancel.actor.role,
    canceledById: cancel.actor.userId,
    canceledAt: now,
    updatedAt: now,
  });
  if (!canceled) throw new Error(`booking ${booking.id} changed under its row lock`);
  await tx.record(
    'booking.canceled',
    canceledPayload(canceled, { wasConfirmed, refundable, canceledBy: cancel.actor.role, canceledById: cancel.actor.userId, reason: cancel.reason }),
    canceled.id,
  );
  return canceled;
}
