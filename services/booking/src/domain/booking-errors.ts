import { AppError, errors } from '@guitaronline/platform';

/** The stable problem codes of scheduling and booking (API.md). */
export const bookingErrors = {
  slotOverlap: () => errors.conflict('slot_overlap', 'The slot overlaps another of your slots.'),
  slotHasBooking: () => errors.conflict('slot_has_booking', 'The slot has a live booking; cancel it first.'),
  slotUnavailable: (why = 'The slot is not open for booking.') => errors.conflict('slot_unavailable', why),
  tooManyHolds: (max: number) => errors.conflict('too_many_holds', `You already hold ${max} slots; confirm or cancel one first.`),
  holdExpired: () => errors.conflict('hold_expired', 'The hold has expired; hold the slot again.'),
  bookingInProgress: () => errors.conflict('booking_in_progress', 'The booking is being confirmed; try again when it has settled.'),
  invalidTransition: (status: string, action: string) => errors.conflict('invalid_transition', `A ${status} booking cannot be ${action}.`),
  idempotencyKeyReused: () =>
    new AppError('idempotency_key_reused', 422, 'This Idempotency-Key was used with a different request body.'),
  bookingNotFound: () => errors.notFound('booking'),
  slotNotFound: () => errors.notFound('slot'),
  notYourSlot: () => errors.forbidden('Only the teacher who published the slot can do this.'),
  fieldErrors: (list: { path: string; message: string }[]) => errors.validation(list, 400),
};
