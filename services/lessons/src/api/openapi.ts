import { createOpenApiRegistry, generateOpenApiDocument, lessonsHttp, problemResponses, jsonResponse as json, bearerSecurity as security } from '@guitaronline/contracts';

/** The lessons service's OpenAPI document, generated from the same zod schemas the routes validate with. */
export function lessonsOpenApi() {
  const registry = createOpenApiRegistry();
  registry.register('Lesson', lessonsHttp.lessonSchema);
  registry.registerPath({
    method: 'get',
    path: '/api/v1/lessons/my',
    summary: "The caller's lessons (student or teacher), newest first",
    security,
    request: { query: lessonsHttp.myLessonsQuery },
    responses: { 200: json(lessonsHttp.lessonPage, 'A page of lessons'), ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/lessons/by-booking/{bookingId}',
    summary: 'The lesson of a booking (its student, its teacher, admin)',
    security,
    request: { params: lessonsHttp.bookingIdParams },
    responses: { 200: json(lessonsHttp.lessonSchema, 'The lesson'), ...problemResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/lessons/{id}',
    summary: 'A lesson (its student, its teacher, admin)',
    security,
    request: { params: lessonsHttp.lessonIdParams },
    responses: { 200: json(lessonsHttp.lessonSchema, 'The lesson'), ...problemResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/lessons/{id}/complete',
    summary: 'Its teacher marks a started lesson completed; completing again changes nothing',
    security,
    request: { params: lessonsHttp.lessonIdParams },
    responses: { 200: json(lessonsHttp.lessonSchema, 'The completed lesson'), ...problemResponses(400, 401, 403, 404, 409) },
  });
  registry.registerPath({
    method: 'get',
    path: '/internal/ops',
    summary: 'Outbox backlog for the admin operations overview (admin token)',
    security,
    responses: { 200: json(lessonsHttp.lessonsOpsSchema, 'Operational figures'), ...problemResponses(401, 403) },
  });
  return generateOpenApiDocument(registry, { title: 'GuitarOnline lessons', version: '1.0.0' });
}
