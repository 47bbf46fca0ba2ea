import { Router, type RequestHandler } from 'express';
import { lessonsHttp } from '@guitaronline/contracts';
import { parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import type { Lesson } from '../domain/lesson-rules';
import { completeLesson, getLesson, getLessonOfBooking, listMyLessons, type LessonsDeps } from '../domain/lessons';

export function toLessonDto(lesson: Lesson): lessonsHttp.LessonDto {
  return {
    id: lesson.id,
    bookingId: lesson.bookingId,
    studentId: lesson.studentId,
    teacherId: lesson.teacherId,
    startAt: lesson.startAt.toISOString(),
    endAt: lesson.endAt.toISOString(),
    status: lesson.status,
    createdAt: lesson.createdAt.toISOString(),
    updatedAt: lesson.updatedAt.toISOString(),
  };
}

/** /api/v1/lessons: thin routes (validate, identify, call the use case, shape the answer). */
export function lessonsRoutes(deps: LessonsDeps, auth: Auth): Router {
  const router = Router();
  router.use(auth.requireAuth as RequestHandler);

  router.get('/my', auth.requireRole('student', 'teacher'), async (req, res) => {
    const query = parseQuery(req, lessonsHttp.myLessonsQuery);
    const page = await listMyLessons(deps, principalOf(req), query);
    res.json({ items: page.items.map(toLessonDto), nextCursor: page.nextCursor });
  });

  router.get('/by-booking/:bookingId', async (req, res) => {
    const { bookingId } = parseParams(req, lessonsHttp.bookingIdParams);
    res.json(toLessonDto(await getLessonOfBooking(deps, principalOf(req), bookingId)));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseParams(req, lessonsHttp.lessonIdParams);
    res.json(toLessonDto(await getLesson(deps, principalOf(req), id)));
  });

  router.post('/:id/complete', auth.requireRole('teacher'), async (req, res) => {
    const { id } = parseParams(req, lessonsHttp.lessonIdParams);
    res.json(toLessonDto(await completeLesson(deps, principalOf(req), id)));
  });

  return router;
}
