import type { EventHandlers, FastPaths } from '@guitaronline/messaging';
import type { Store } from '../data/store';
import { applyDebit, applyDebitAtOnce, applyDebitRejection } from '../domain/confirm-booking';
import type { BookingDeps } from '../domain/deps';

/**
 * Booking's reactions to billing (the confirm saga). Each runs in the inbox transaction, so
 * an exact redelivery has no second effect; what each does when a message comes early, late
 * or twice under another id is written on applyDebit / applyDebitRejection:
 * - debited: confirming → confirmed; already confirmed (or canceled after confirming) → nothing;
 *   rejected/expired/never-confirmed → one compensating refundable `booking.canceled`.
 * - debit_rejected: confirming → rejected (slot open again); any other status → nothing.
 * Neither can arrive "early": billing only answers a confirmation request, which is published
 * after the booking's confirming state committed.
 */
export function billingHandlers(deps: BookingDeps, store: Store): EventHandlers {
  return {
    'billing.lesson.debited': async (trx, event) => applyDebit(deps, store.bind(trx), event.payload),
    'billing.lesson.debit_rejected': async (trx, event) => applyDebitRejection(deps, store.bind(trx), event.payload),
  };
}

/**
 * The usual debit (the booking waits in confirming) in one autocommit statement with the inbox
 * row, before the handler's transaction: confirming → confirmed is a conditional update of one
 * row, so a concurrent or repeated debit finds it already changed and takes the handler's way.
 */
export function billingFastPaths(deps: BookingDeps): FastPaths {
  return {
    'billing.lesson.debited': (event, inbox) => applyDebitAtOnce(deps, event.payload, inbox),
  };
}
