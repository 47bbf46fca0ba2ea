import type { EventPayload } from '@guitaronline/contracts';
import type { Booking, Role, Slot } from './booking';

/** The payloads of the events booking produces, built in one place so every emitter agrees. */

/** Stands for a booking's value that the statement writing the event fills in (a valid uuid / time, so the payload is checked as usual). */
const STAND_IN_ID = '00000000-0000-0000-0000-000000000000';
const STAND_IN_TIME = new Date(0);

/**
 * A booking with what a use case knows before its statement runs and stand-ins for the rest:
 * the payload functions below build its event, and the statement fills the stand-ins in from
 * the row it changed (BookingRepository's `…WithEvent`, FILLED_FROM_BOOKING).
 */
export function standInBooking(known: Pick<Booking, 'id'> & Partial<Booking>): Booking {
  return {
    slotId: STAND_IN_ID,
    studentId: STAND_IN_ID,
    teacherId: STAND_IN_ID,
    packageId: null,
    status: 'hold',
    startAt: STAND_IN_TIME,
    endAt: STAND_IN_TIME,
    holdExpiresAt: STAND_IN_TIME,
    refundable: null,
    rejectReason: null,
    cancelReason: null,
    canceledBy: null,
    canceledById: null,
    rescheduledFromId: null,
    rescheduledToId: null,
    confirmRequestedAt: null,
    confirmAttempts: 0,
    confirmedAt: null,
    canceledAt: null,
    compensatedAt: null,
    correlationId: null,
    createdAt: STAND_IN_TIME,
    updatedAt: STAND_IN_TIME,
    ...known,
  };
}

export function slotPayload(slot: Slot): EventPayload<'booking.slot.created'> {
  return { slotId: slot.id, teacherId: slot.teacherId, startAt: slot.startAt.toISOString(), endAt: slot.endAt.toISOString() };
}

export function heldPayload(b: Booking): EventPayload<'booking.held'> {
  return {
    bookingId: b.id,
    slotId: b.slotId,
    studentId: b.studentId,
    teacherId: b.teacherId,
    startAt: b.startAt.toISOString(),
    endAt: b.endAt.toISOString(),
    holdExpiresAt: b.holdExpiresAt.toISOString(),
  };
}

/** `predecessor`: the booking a reschedule canceled for this one, as that cancel decided it. */
export function confirmationRequestedPayload(b: Booking, predecessor?: Pick<Booking, 'id' | 'refundable'>): EventPayload<'booking.confirmation_requested'> {
  return {
    bookingId: b.id,
    studentId: b.studentId,
    teacherId: b.teacherId,
    packageId: b.packageId,
    startAt: b.startAt.toISOString(),
    endAt: b.endAt.toISOString(),
    attempt: Math.max(1, b.confirmAttempts),
    ...(predecessor ? { rescheduledFrom: { bookingId: predecessor.id, refundable: predecessor.refundable === true } } : {}),
  };
}

export function confirmedPayload(b: Booking & { packageId: string }): EventPayload<'booking.confirmed'> {
  return {
    bookingId: b.id,
    slotId: b.slotId,
    studentId: b.studentId,
    teacherId: b.teacherId,
    packageId: b.packageId,
    startAt: b.startAt.toISOString(),
    endAt: b.endAt.toISOString(),
  };
}

export function rejectedPayload(b: Booking, reason: string): EventPayload<'booking.rejected'> {
  return { bookingId: b.id, reason, slotId: b.slotId, studentId: b.studentId, teacherId: b.teacherId, startAt: b.startAt.toISOString() };
}

export function canceledPayload(
  b: Booking,
  cancel: { wasConfirmed: boolean; refundable: boolean; canceledBy: Role; canceledById?: string | null; reason: string | null },
): EventPayload<'booking.canceled'> {
  return {
    bookingId: b.id,
    packageId: b.packageId,
    wasConfirmed: cancel.wasConfirmed,
    refundable: cancel.refundable,
    canceledBy: cancel.canceledBy,
    ...(cancel.canceledById ? { canceledById: cancel.canceledById } : {}),
    reason: cancel.reason,
    slotId: b.slotId,
    studentId: b.studentId,
    teacherId: b.teacherId,
    startAt: b.startAt.toISOString(),
  };
}

export function expiredPayload(b: Booking): EventPayload<'booking.expired'> {
  return { bookingId: b.id, slotId: b.slotId, studentId: b.studentId, teacherId: b.teacherId };
}

export function rescheduledPayload(from: Booking, to: Booking): EventPayload<'booking.rescheduled'> {
  return { fromBookingId: from.id, toBookingId: to.id, studentId: from.studentId, teacherId: to.teacherId };
}
