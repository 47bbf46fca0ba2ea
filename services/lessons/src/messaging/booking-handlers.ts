import { byPayloadField, type EventHandlers } from '@guitaronline/messaging';
import type { Logger } from '@guitaronline/platform';
import type { Clock } from '../domain/clock';
import { cancelLessonForBooking, scheduleLessonForBooking } from '../domain/lessons';

/**
 * The consumer's `serializeBy`: every event of one booking is handled one at a time, across
 * replicas (an advisory lock taken with the inbox row); the handlers below rely on it.
 */
export const oneBookingAtATime = byPayloadField('bookingId');

/**
 * What lessons does with booking events. Each runs in the consumer's transaction together with
 * the inbox row, so a redelivered message is skipped; the rules below also hold for the same
 * booking arriving twice under different message ids and for any order of confirmed/canceled.
 */
export function bookingHandlers(deps: { clock: Clock; logger: Logger }): EventHandlers {
  return {
    // early: n/a (a confirmation is what creates the lesson); late after a cancel: creates nothing; twice: one lesson
    'booking.confirmed': async (trx, event) => {
      await scheduleLessonForBooking(trx, event.payload, deps);
    },
    // early (before confirmed): remembered as a tombstone; late: cancels the scheduled lesson; twice: no second effect
    'booking.canceled': async (trx, event) => {
      await cancelLessonForBooking(trx, event.payload, deps);
    },
  };
}
