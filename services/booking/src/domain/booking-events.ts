import type { EventPayload } from '@guitaronline/contracts';
import type { Booking, Role, Slot } from './booking';

/** The payloads of the events booking produces, built in one place so every emitter agrees. */

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
