import { byPayloadField, type EventHandlers, type FastPaths } from '@guitaronline/messaging';
import { prom, type Logger, type Registry } from '@guitaronline/platform';
import type { Db } from '../data/db';
import { creditLessonForBooking, debitAtOnce, debitLessonForBooking } from '../domain/booking-ledger';
import type { Clock } from '../domain/clock';

/**
 * The consumer's `serializeBy`: every event of one booking is handled one at a time, across
 * replicas (an advisory lock taken with the inbox row); the handlers below rely on it.
 */
export const oneBookingAtATime = byPayloadField('bookingId');

/**
 * What billing does with booking events. Each runs in the consumer's transaction with the inbox
 * row (a redelivered message is skipped); the ledger makes the effects idempotent per booking
 * as well, whatever message id a repeat arrives under. Early/late/twice for each is spelled out
 * on the use cases (domain/booking-ledger.ts).
 */
export function bookingHandlers(deps: { db: Db; clock: Clock; logger: Logger; metrics?: Registry }): { handlers: EventHandlers; fastPaths: FastPaths } {
  const outcomes = deps.metrics
    ? new prom.Counter({
        name: 'billing_booking_outcomes_total',
        help: 'Outcomes of booking events in billing (debited, rejected, replayed, credited, ...)',
        labelNames: ['event', 'outcome'],
        registers: [deps.metrics],
      })
    : undefined;
  const handlers: EventHandlers = {
    // twice/re-requested: same answer again, no second debit; after a cancel: costs nothing
    'booking.confirmation_requested': async (trx, event) => {
      const outcome = await debitLessonForBooking(trx, event.payload, deps);
      outcomes?.inc({ event: event.type, outcome: outcome.replayed ? `${outcome.kind}_replayed` : outcome.kind });
    },
    // early: tombstone; twice: one credit; non-refundable cancel of a confirmed booking: no credit
    'booking.canceled': async (trx, event) => {
      const { bookingId, refundable, wasConfirmed } = event.payload;
      const outcome = await creditLessonForBooking(trx, { bookingId, refundable, wasConfirmed, source: 'booking.canceled' }, deps);
      outcomes?.inc({ event: event.type, outcome });
    },
    // booking gave up on the booking (e.g. its watchdog): if billing had debited it, the lesson goes back
    'booking.rejected': async (trx, event) => {
      const outcome = await creditLessonForBooking(trx, { bookingId: event.payload.bookingId, refundable: true, wasConfirmed: false, source: 'booking.rejected' }, deps);
      outcomes?.inc({ event: event.type, outcome });
    },
  };
  /**
   * The usual debit request in one autocommit statement with the inbox row, before the handler's
   * transaction and without the booking's lock: its claim of the booking's `seen_bookings` row
   * orders it against the locked handlers instead (data/package-repository.ts).
   */
  const fastPaths: FastPaths = {
    'booking.confirmation_requested': async (event, inbox) => {
      const debited = await debitAtOnce(deps, event.payload, inbox);
      if (debited) outcomes?.inc({ event: event.type, outcome: 'debited' });
      return debited;
    },
  };
  return { handlers, fastPaths };
}
