/** The lesson and its rules; pure (no express, broker or database here). */
export type LessonStatus = 'scheduled' | 'canceled' | 'completed';

export interface Lesson {
  id: string;
  bookingId: string;
  studentId: string;
  teacherId: string;
  startAt: Date;
  endAt: Date;
  status: LessonStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface Viewer {
  userId: string;
  role: 'student' | 'teacher' | 'admin';
}

/** Its student, its teacher and admins may see a lesson; everyone else is told it does not exist. */
export function canSeeLesson(lesson: Lesson, viewer: Viewer): boolean {
  if (viewer.role === 'admin') return true;
  if (viewer.role === 'student') return lesson.studentId === viewer.userId;
  return lesson.teacherId === viewer.userId;
}

export type CompletionDecision = { kind: 'complete' } | { kind: 'unchanged' } | { kind: 'refused'; reason: string };

/** A scheduled lesson can be completed once it has started; completing a completed one changes nothing. */
export function decideCompletion(lesson: Lesson, now: Date): CompletionDecision {
  if (lesson.status === 'completed') return { kind: 'unchanged' };
  if (lesson.status === 'canceled') return { kind: 'refused', reason: 'A canceled lesson cannot be completed.' };
  if (lesson.startAt.getTime() > now.getTime()) return { kind: 'refused', reason: 'The lesson has not started yet.' };
  return { kind: 'complete' };
}

export function lessonEventPayload(lesson: Lesson) {
  return {
    lessonId: lesson.id,
    bookingId: lesson.bookingId,
    studentId: lesson.studentId,
    teacherId: lesson.teacherId,
    startAt: lesson.startAt.toISOString(),
    endAt: lesson.endAt.toISOString(),
  };
}
