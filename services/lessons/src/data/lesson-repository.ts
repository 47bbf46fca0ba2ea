import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';
import type { DomainEvent } from '@guitaronline/contracts';
import { changeWithEvents, type InboxClaim } from '@guitaronline/messaging';
import type { Lesson, LessonStatus } from '../domain/lesson-rules';
import type { Queryable, Tx } from './db';

interface LessonRow {
  id: string;
  booking_id: string;
  student_id: string;
  teacher_id: string;
  start_at: Date;
  end_at: Date;
  status: LessonStatus;
  created_at: Date;
  updated_at: Date;
}

const TABLE = 'lessons';

function toLesson(row: LessonRow): Lesson {
  return {
    id: row.id,
    bookingId: row.booking_id,
    studentId: row.student_id,
    teacherId: row.teacher_id,
    startAt: row.start_at,
    endAt: row.end_at,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Inserts the booking's lesson unless lessons already knows the booking — canceled (its fate
 * row, or a tombstone of the previous release in `canceled_bookings`), or scheduled by an
 * earlier confirmation — and in the same statement the outbox row of `created` (its
 * `lesson.created`, built beforehand from the same values), only when the lesson was inserted.
 * The statement first claims the booking's fate row as `scheduled` (an insert that does
 * nothing when the row exists): a cancel writes the same row (`rememberCanceledBooking`), so
 * the primary key orders the two even without the consumer's lock — an insert waits for a
 * cancel in flight and then finds its row; a cancel waits for this statement and then finds
 * the lesson to cancel. `inbox`: the consumer's fast path (the statement writes the message's
 * inbox row too). Undefined: nothing was written.
 */
export async function insertLessonUnlessCanceled(db: Queryable, lesson: Lesson, created: DomainEvent, options: { inbox?: InboxClaim } = {}): Promise<Lesson | undefined> {
  const claim = db.raw(
    `insert into booking_fates (booking_id, fate, updated_at) values (?, 'scheduled', ?)
     on conflict (booking_id) do nothing
     returning booking_id`,
    [lesson.bookingId, lesson.createdAt],
  );
  const insert = db.raw(
    `insert into lessons (id, booking_id, student_id, teacher_id, start_at, end_at, status, created_at, updated_at)
     select :id, :bookingId, :studentId, :teacherId, :startAt, :endAt, :status, :createdAt, :updatedAt
     from claim
     where not exists (select 1 from canceled_bookings where booking_id = :bookingId)
     on conflict (booking_id) do nothing
     returning *`,
    {
      id: lesson.id,
      bookingId: lesson.bookingId,
      studentId: lesson.studentId,
      teacherId: lesson.teacherId,
      startAt: lesson.startAt,
      endAt: lesson.endAt,
      status: lesson.status,
      createdAt: lesson.createdAt,
      updatedAt: lesson.updatedAt,
    },
  );
  const [row] = await changeWithEvents<LessonRow>(db, insert, [created], { before: { claim }, inbox: options.inbox });
  return row ? toLesson(row) : undefined;
}

export async function findLessonById(db: Queryable, id: string): Promise<Lesson | undefined> {
  const row: LessonRow | undefined = await db(TABLE).where({ id }).first();
  return row ? toLesson(row) : undefined;
}

export async function findLessonByBooking(db: Queryable, bookingId: string): Promise<Lesson | undefined> {
  const row: LessonRow | undefined = await db(TABLE).where({ booking_id: bookingId }).first();
  return row ? toLesson(row) : undefined;
}

/** Cancels the booking's lesson if it is still scheduled; undefined when there was none to cancel. */
export async function cancelScheduledLesson(tx: Tx, bookingId: string, now: Date): Promise<Lesson | undefined> {
  const rows: LessonRow[] = await tx(TABLE)
    .where({ booking_id: bookingId, status: 'scheduled' })
    .update({ status: 'canceled', canceled_at: now, updated_at: now })
    .returning('*');
  return rows[0] ? toLesson(rows[0]) : undefined;
}

/** One conditional UPDATE: only a scheduled lesson whose start has passed becomes completed. */
export async function completeStartedLesson(tx: Tx, id: string, now: Date): Promise<Lesson | undefined> {
  const rows: LessonRow[] = await tx(TABLE)
    .where({ id, status: 'scheduled' })
    .andWhere('start_at', '<=', now)
    .update({ status: 'completed', completed_at: now, updated_at: now })
    .returning('*');
  return rows[0] ? toLesson(rows[0]) : undefined;
}

/**
 * The booking's fate becomes `canceled` (the first cancel's `canceledBy` is kept). When a
 * confirmation's statement is claiming the row at the same moment, this waits for it to end,
 * so the caller's next statement sees the lesson it made. The same statement writes the
 * previous release's tombstone (`canceled_bookings`), which its replicas read while a rollout
 * runs both.
 */
export async function rememberCanceledBooking(tx: Tx, bookingId: string, canceledBy: string, now: Date): Promise<void> {
  await tx.raw(
    `with tombstone as (
       insert into canceled_bookings (booking_id, canceled_by, received_at) values (:bookingId, :canceledBy, :now)
       on conflict (booking_id) do nothing
     )
     insert into booking_fates (booking_id, fate, canceled_by, updated_at) values (:bookingId, 'canceled', :canceledBy, :now)
     on conflict (booking_id) do update set fate = 'canceled', canceled_by = excluded.canceled_by, updated_at = excluded.updated_at
     where booking_fates.fate <> 'canceled'`,
    { bookingId, canceledBy, now },
  );
}

/** Canceled as far as lessons knows: its fate row, or a tombstone the previous release wrote. */
export async function isBookingCanceled(tx: Tx, bookingId: string): Promise<boolean> {
  const { rows } = await tx.raw<{ rows: { canceled: boolean }[] }>(
    `select exists (select 1 from booking_fates where booking_id = :bookingId and fate = 'canceled')
         or exists (select 1 from canceled_bookings where booking_id = :bookingId) as canceled`,
    { bookingId },
  );
  return rows[0]?.canceled === true;
}

export async function listLessons(
  db: Queryable,
  filter: { studentId?: string; teacherId?: string; status?: LessonStatus },
  page: PageRequest,
): Promise<Page<Lesson>> {
  const query = db(TABLE).select('*');
  if (filter.studentId) query.where('student_id', filter.studentId);
  if (filter.teacherId) query.where('teacher_id', filter.teacherId);
  if (filter.status) query.where('status', filter.status);
  const { items, nextCursor } = await keysetPage<LessonRow>(query, page);
  return { items: items.map(toLesson), nextCursor };
}
