import { getContext } from '@guitaronline/platform';
import type { EventPayload } from '@guitaronline/contracts';
import type { Actor, Booking } from './booking';
import { bookingErrors } from './booking-errors';
import { canceledPayload, confirmationRequestedPayload, confirmedPayload, expiredPayload, rejectedPayload, standInBooking } from './booking-events';
import { isHoldExpired } from './booking-rules';
import type { BookingDeps } from './deps';
import type { InboxClaim } from '@guitaronline/messaging';
import type { Tx } from '../data/store';

export type ConfirmOutcome = 'requested' | 'in_progress' | 'already_confirmed';

/**
 * The student asks to confirm their hold (the confirm saga, EVENTS.md): hold → confirming and
 * `booking.confirmation_requested` for billing to debit one lesson.
 * Repeats change nothing: confirming → unchanged (still waiting for billing), confirmed → unchanged.
 * A hold whose time ran out is expired here (committed) and answered 409 hold_expired.
 * Someone else's booking → 404.
 */
export async function requestConfirmation(deps: BookingDeps, student: Actor, bookingId: string, packageId: string | undefined): Promise<{ booking: Booking; outcome: ConfirmOutcome }> {
  // the usual case — the student's live hold — in one autocommit statement with its event
  const requestedAt = deps.clock();
  const change = { packageId: packageId ?? null, correlationId: getContext().correlationId ?? null };
  const payload = confirmationRequestedPayload(standInBooking({ id: bookingId, studentId: student.userId, packageId: change.packageId, confirmAttempts: 1 }));
  const requested = await deps.store.confirmLiveHold(bookingId, student.userId, requestedAt, change, payload);
  if (requested) return { booking: requested, outcome: 'requested' };
  // anything else is read under the row lock to say why (or, if it became the usual case meanwhile, confirmed here)
  const result = await deps.store.transaction(async (tx) => {
    const now = deps.clock();
    const confirming = await tx.bookings.confirmLiveHold(bookingId, student.userId, now, change);
    if (confirming) {
      await tx.record('booking.confirmation_requested', confirmationRequestedPayload(confirming), confirming.id);
      return { booking: confirming, outcome: 'requested' as const };
    }
    const booking = await tx.bookings.findForUpdate(bookingId);
    if (!booking || booking.studentId !== student.userId) throw bookingErrors.bookingNotFound();
    switch (booking.status) {
      case 'confirmed':
        return { booking, outcome: 'already_confirmed' as const };
      case 'confirming':
        return { booking, outcome: 'in_progress' as const };
      case 'expired':
        return { expired: true as const };
      case 'rejected':
      case 'canceled':
        throw bookingErrors.invalidTransition(booking.status, 'confirmed');
      case 'hold':
        break;
    }
    // a hold of the student's that the conditional update did not take has run out
    if (!isHoldExpired(booking, now)) throw new Error(`booking ${booking.id} is a live hold the conditional confirm did not take`);
    const expired = await tx.bookings.transition(booking.id, ['hold'], { status: 'expired', updatedAt: now });
    if (expired) {
      await tx.record('booking.expired', expiredPayload(expired), expired.id, { correlationId: expired.correlationId });
      deps.metrics.holdsExpired('lazy', 1);
    }
    return { expired: true as const };
  });
  if ('expired' in result) throw bookingErrors.holdExpired();
  return result;
}

/**
 * Waits (up to `ms`) for a confirming booking to settle, woken by the saga reaction in this
 * process or, failing that, by a short poll. Returns the booking as last read.
 */
export async function awaitSettled(deps: BookingDeps, bookingId: string, ms: number): Promise<Booking | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const booking = await deps.store.read.bookings.findById(bookingId);
    if (!booking || booking.status !== 'confirming') return booking;
    const left = deadline - Date.now();
    if (left <= 0) return booking;
    await deps.notifier.next(bookingId, Math.min(left, 250));
  }
}

/**
 * Saga reaction to `billing.lesson.debited`.
 * - confirming → confirmed with the debited package, `booking.confirmed` (lessons makes the lesson).
 * - twice / late for a confirmed booking → nothing (the inbox already drops exact duplicates;
 *   this covers a second debit message for the same booking).
 * - for a booking canceled after it was confirmed → nothing: the cancel already told billing.
 * - for a booking that never became confirmed (the watchdog rejected it, or a debit for a
 *   rejected/expired/canceled-unconfirmed booking) → compensate once: `booking.canceled` with
 *   wasConfirmed false, refundable true, canceledBy admin, reason `debit_after_rejection`, so
 *   billing credits the lesson back (its ledger is unique per booking, so never twice).
 * - for a hold (cannot happen: a debit is only asked for after confirm) or an unknown booking → logged, nothing.
 */
export async function applyDebit(deps: BookingDeps, tx: Tx, debit: EventPayload<'billing.lesson.debited'>): Promise<void> {
  const now = deps.clock();
  // the usual case in one statement; anything else is read under the row lock
  const event = tx.envelope('booking.confirmed', confirmedStandIn(debit), debit.bookingId);
  const confirmed = await tx.bookings.transitionWithEvent(debit.bookingId, ['confirming'], confirmedPatch(debit.packageId, now), event);
  if (confirmed) {
    tx.afterCommit(() => deps.notifier.settled(confirmed.id));
    return;
  }
  const booking = await tx.bookings.findForUpdate(debit.bookingId);
  const log = deps.logger.child({ bookingId: debit.bookingId, packageId: debit.packageId });
  if (!booking) {
    log.warn('lesson debited for an unknown booking; ignored');
    return;
  }
  if (booking.status === 'confirming') throw new Error(`booking ${booking.id} is confirming but the conditional confirm did not take it`);
  if (booking.status === 'confirmed' || (booking.status === 'canceled' && booking.confirmedAt)) {
    if (booking.packageId !== debit.packageId) log.warn({ bookedPackageId: booking.packageId }, 'second debit names another package; ignored');
    return;
  }
  if (booking.status === 'hold') {
    log.error({ status: booking.status }, 'lesson debited for a booking that never asked for it; ignored');
    return;
  }
  // rejected, expired, or canceled without ever being confirmed: the lesson must go back
  if (booking.compensatedAt) return;
  const marked = await tx.bookings.transition(booking.id, [booking.status], { compensatedAt: now, packageId: booking.packageId ?? debit.packageId, updatedAt: now });
  if (!marked) throw new Error(`booking ${booking.id} changed under its row lock`);
  await tx.record(
    'booking.canceled',
    canceledPayload({ ...marked, packageId: debit.packageId }, { wasConfirmed: false, refundable: true, canceledBy: 'admin', canceledById: null, reason: 'debit_after_rejection' }),
    booking.id,
  );
  deps.metrics.compensated();
  log.warn({ status: booking.status }, 'lesson debited after the booking left confirming; compensating with a refundable cancel');
}

/**
 * The usual case of applyDebit — the booking waits in confirming — as one autocommit statement
 * that also writes the debit message's inbox row (the consumer's fast path, one round trip).
 * False when the booking is in any other state: nothing was written, and applyDebit, in the
 * inbox transaction, decides what the debit means for it.
 */
export async function applyDebitAtOnce(deps: BookingDeps, debit: EventPayload<'billing.lesson.debited'>, inbox: InboxClaim): Promise<boolean> {
  const now = deps.clock();
  const confirmed = await deps.store.confirmDebited(debit.bookingId, confirmedPatch(debit.packageId, now), confirmedStandIn(debit), inbox, now);
  if (!confirmed) return false;
  deps.notifier.settled(confirmed.id);
  return true;
}

/** What the usual debit changes on a confirming booking. */
function confirmedPatch(packageId: string, now: Date): Partial<Booking> {
  return { status: 'confirmed', packageId, confirmedAt: now, updatedAt: now };
}

/** `booking.confirmed` for the debited booking, with stand-ins for what the booking's row fills in. */
function confirmedStandIn(debit: EventPayload<'billing.lesson.debited'>): EventPayload<'booking.confirmed'> {
  return confirmedPayload({ ...standInBooking({ id: debit.bookingId }), packageId: debit.packageId });
}

/**
 * Saga reaction to `billing.lesson.debit_rejected`.
 * - confirming → rejected with billing's reason, the slot is open again, `booking.rejected`.
 * - twice / late (already rejected, canceled, expired) → nothing.
 * - for a confirmed booking → nothing: billing debited it once (its ledger says so); a
 *   rejection of a repeated request cannot undo that. Logged.
 */
export async function applyDebitRejection(deps: BookingDeps, tx: Tx, rejection: EventPayload<'billing.lesson.debit_rejected'>): Promise<void> {
  const booking = await tx.bookings.findForUpdate(rejection.bookingId);
  const log = deps.logger.child({ bookingId: rejection.bookingId, reason: rejection.reason });
  if (!booking) {
    log.warn('debit rejected for an unknown booking; ignored');
    return;
  }
  if (booking.status !== 'confirming') {
    if (booking.status === 'confirmed') log.warn('debit rejected for a confirmed booking; ignored');
    return;
  }
  const now = deps.clock();
  const rejected = await tx.bookings.transition(booking.id, ['confirming'], { status: 'rejected', rejectReason: rejection.reason, updatedAt: now });
  if (!rejected) throw new Error(`booking ${booking.id} changed under its row lock`);
  await tx.record('booking.rejected', rejectedPayload(rejected, rejection.reason), rejected.id);
  tx.afterCommit(() => deps.notifier.settled(booking.id));
}
