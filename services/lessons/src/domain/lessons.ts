import { randomUUID } from 'node:crypto';
import type { DomainEvent, EventPayload } from '@guitaronline/contracts';
import { newEnvelopes, recordEvent, type InboxClaim } from '@guitaronline/messaging';
import { AppError, errors, type PageRequest } from '@guitaronline/platform';
import type { Logger } from '@guitaronline/platform';
import type { Db, Tx } from '../data/db';
import {
  cancelScheduledLesson,
  completeStartedLesson,
  findLessonByBooking,
  findLessonById,
  insertLessonUnlessCanceled,
  isBookingCanceled,
  listLessons,
  rememberCanceledBooking,
} from '../data/lesson-repository';
import type { Clock } from './clock';
import { canSeeLesson, decideCompletion, lessonEventPayload, type Lesson, type LessonStatus, type Viewer } from './lesson-rules';

export interface LessonsDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

/**
 * booking.confirmed → the booking's one lesson, scheduled. Runs under the booking's lock (the
 * consumer handles one booking's events at a time, `oneBookingAtATime`) — and the insert also
 * claims the booking's fate row, so it is ordered against a cancel even where it runs without
 * the lock (`scheduleLessonAtOnce`).
 * Twice: the fate row (and UNIQUE(booking_id)) make the second insert a no-op (no second lesson.created).
 * After its cancel (out of order): the fate row says canceled and no lesson is created at all.
 */
export async function scheduleLessonForBooking(tx: Tx, booking: EventPayload<'booking.confirmed'>, deps: Pick<LessonsDeps, 'clock' | 'logger'>): Promise<Lesson | undefined> {
  const { scheduled, created } = lessonFor(booking, deps.clock());
  const lesson = await insertLessonUnlessCanceled(tx, scheduled, created);
  if (lesson) return lesson;
  // not created: a duplicate or a late confirmation
  if (await isBookingCanceled(tx, booking.bookingId)) {
    deps.logger.info({ bookingId: booking.bookingId }, 'booking was canceled before its confirmation arrived; no lesson created');
  }
  return undefined;
}

/**
 * The usual booking.confirmed — lessons knows nothing of the booking yet — as one autocommit
 * statement that also writes the message's inbox row (the consumer's fast path: no lock, no
 * transaction; the fate row orders it against a cancel, see insertLessonUnlessCanceled). False
 * when it wrote nothing: `scheduleLessonForBooking` then runs as usual.
 */
export async function scheduleLessonAtOnce(deps: Pick<LessonsDeps, 'db' | 'clock'>, booking: EventPayload<'booking.confirmed'>, inbox: InboxClaim): Promise<boolean> {
  const { scheduled, created } = lessonFor(booking, deps.clock());
  return (await insertLessonUnlessCanceled(deps.db, scheduled, created, { inbox })) !== undefined;
}

/** The confirmed booking's lesson and its `lesson.created`, built before the statement that writes both. */
function lessonFor(booking: EventPayload<'booking.confirmed'>, now: Date): { scheduled: Lesson; created: DomainEvent<'lesson.created'> } {
  const scheduled: Lesson = {
    id: randomUUID(),
    bookingId: booking.bookingId,
    studentId: booking.studentId,
    teacherId: booking.teacherId,
    startAt: new Date(booking.startAt),
    endAt: new Date(booking.endAt),
    status: 'scheduled',
    createdAt: now,
    updatedAt: now,
  };
  const [created] = newEnvelopes([{ type: 'lesson.created', aggregateId: scheduled.id, payload: lessonEventPayload(scheduled), occurredAt: now }]);
  return { scheduled, created: created as DomainEvent<'lesson.created'> };
}

/**
 * booking.canceled → the booking's scheduled lesson becomes canceled (+ lesson.canceled).
 * Runs under the booking's lock, as above; its fate row first, which waits for a confirmation's
 * statement in flight, so the update after it sees the lesson that statement made.
 * Early (no lesson yet): the cancel is remembered, so a late booking.confirmed creates nothing.
 * Twice: the lesson is no longer scheduled and the fate row says canceled already; nothing changes.
 * A completed lesson stays completed (it took place).
 */
export async function cancelLessonForBooking(tx: Tx, booking: EventPayload<'booking.canceled'>, deps: Pick<LessonsDeps, 'clock' | 'logger'>): Promise<Lesson | undefined> {
  const now = deps.clock();
  await rememberCanceledBooking(tx, booking.bookingId, booking.canceledBy, now);
  const lesson = await cancelScheduledLesson(tx, booking.bookingId, now);
  if (!lesson) return undefined;
  await recordEvent(tx, { type: 'lesson.canceled', aggregateId: lesson.id, payload: lessonEventPayload(lesson), occurredAt: now });
  return lesson;
}

function visibleOrNotFound(lesson: Lesson | undefined, viewer: Viewer): Lesson {
  if (!lesson || !canSeeLesson(lesson, viewer)) throw errors.notFound('lesson');
  return lesson;
}

export async function getLesson(deps: LessonsDeps, viewer: Viewer, id: string): Promise<Lesson> {
  return visibleOrNotFound(await findLessonById(deps.db, id), viewer);
}

export async function getLessonOfBooking(deps: LessonsDeps, viewer: Viewer, bookingId: string): Promise<Lesson> {
  return visibleOrNotFound(await findLessonByBooking(deps.db, bookingId), viewer);
}

/** A student's or a teacher's own lessons, newest first. */
export async function listMyLessons(deps: LessonsDeps, viewer: Viewer, query: PageRequest & { status?: LessonStatus }) {
  const filter = viewer.role === 'student' ? { studentId: viewer.userId } : { teacherId: viewer.userId };
  return listLessons(deps.db, { ...filter, status: query.status }, query);
}

/** Its teacher marks a started lesson completed (+ lesson.completed); again → unchanged. */
export async function completeLesson(deps: LessonsDeps, teacher: Viewer, id: string): Promise<Lesson> {
  return deps.db.transaction(async (tx) => {
    const lesson = await findLessonById(tx, id);
    if (!lesson || lesson.teacherId !== teacher.userId) throw errors.notFound('lesson');
    const now = deps.clock();
    const decision = decideCompletion(lesson, now);
    if (decision.kind === 'unchanged') return lesson;
    if (decision.kind === 'refused') throw new AppError('invalid_transition', 409, decision.reason);
    const completed = await completeStartedLesson(tx, id, now);
    // a concurrent cancel or complete won the row: answer with what it is now
    if (!completed) {
      const current = (await findLessonById(tx, id))!;
      const again = decideCompletion(current, now);
      if (again.kind === 'refused') throw new AppError('invalid_transition', 409, again.reason);
      return current;
    }
    await recordEvent(tx, { type: 'lesson.completed', aggregateId: completed.id, payload: lessonEventPayload(completed), occurredAt: now });
    return completed;
  });
}
