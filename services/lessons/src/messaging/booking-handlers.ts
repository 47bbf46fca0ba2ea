import { byPayloadField, type EventHandlers, type FastPaths } from '@guitaronline/messaging';
import type { Logger } from '@guitaronline/platform';
import type { Clock } from '../domain/clock';
import { cancelLessonForBooking, scheduleLessonAtOnce, scheduleLessonForBooking, type LessonsDeps } from '../domain/lessons';

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
    // early (before confirmed): remembered (the booking's fate row says canceled); late: cancels the scheduled lesson; twice: no second effect
    'booking.canceled': async (trx, event) => {
      await cancelLessonForBooking(trx, event.payload, deps);
    },
  };
}

/**
 * The usual booking.confirmed in one autocommit statement with the inbox row, before the
 * handler's transaction and without the booking's lock: the lesson's insert claims the
 * booking's fate row, which the cancel handler writes too, so the two are ordered by its
 * primary key instead (domain/lessons.ts).
 */
export function bookingFastPaths(deps: Pick<LessonsDeps, 'db' | 'clock'>): FastPaths {
  return {
    'booking.confirmed': (event, inbox) => scheduleLessonAtOnce(deps, event.payload, inbox),
  };
}
