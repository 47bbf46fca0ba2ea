import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';
import type { DomainEvent } from '@guitaronline/contracts';
import { changeWithEvents } from '@guitaronline/messaging';
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
 * Inserts the booking's lesson unless the booking is already remembered as canceled or already
 * has one (UNIQUE booking_id), and in the same statement the outbox row of `created` (its
 * `lesson.created`, built beforehand from the same values) — only when the lesson was inserted.
 * Undefined: nothing was written.
 */
export async function insertLessonUnlessCanceled(tx: Tx, lesson: Lesson, created: DomainEvent): Promise<Lesson | undefined> {
  const insert = tx.raw(
    `insert into lessons (id, booking_id, student_id, teacher_id, start_at, end_at, status, created_at, updated_at)
     select :id, :bookingId, :studentId, :teacherId, :startAt, :endAt, :status, :createdAt, :updatedAt
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
  const [row] = await changeWithEvents<LessonRow>(tx, insert, [created]);
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

export async function rememberCanceledBooking(tx: Tx, bookingId: string, canceledBy: string, now: Date): Promise<void> {
  await tx('canceled_bookings').insert({ booking_id: bookingId, canceled_by: canceledBy, received_at: now }).onConflict('booking_id').ignore();
}

export async function isBookingCanceled(tx: Tx, bookingId: string): Promise<boolean> {
  const row = await tx('canceled_bookings').where({ booking_id: bookingId }).first('booking_id');
  return row !== undefined;
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
