import { z } from '../zod';
import { isoDateTime, uuid } from '../primitives';
import { pageOf, pageQuery } from './common';

export const lessonStatus = z.enum(['scheduled', 'canceled', 'completed']);
export type LessonStatus = z.infer<typeof lessonStatus>;

export const lessonSchema = z
  .object({
    id: uuid,
    bookingId: uuid,
    studentId: uuid,
    teacherId: uuid,
    startAt: isoDateTime,
    endAt: isoDateTime,
    status: lessonStatus,
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
  .openapi('Lesson');
export type LessonDto = z.infer<typeof lessonSchema>;

export const lessonIdParams = z.object({ id: uuid });
export const bookingIdParams = z.object({ bookingId: uuid });
export const myLessonsQuery = pageQuery.extend({ status: lessonStatus.optional() });
export const lessonPage = pageOf(lessonSchema).openapi('LessonPage');

/** GET /internal/ops (admin token): figures for the admin service's operations overview. */
export const lessonsOpsSchema = z
  .object({
    outbox: z.object({ pending: z.number().int().nonnegative(), oldestPendingSeconds: z.number().nonnegative() }),
  })
  .openapi('LessonsOps');
export type LessonsOps = z.infer<typeof lessonsOpsSchema>;
