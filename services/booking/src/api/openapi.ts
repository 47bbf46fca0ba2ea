import { bookingHttp, createOpenApiRegistry, generateOpenApiDocument, problemResponses, z, jsonResponse as json, bearerSecurity as security } from '@guitaronline/contracts';

/** The booking service's OpenAPI document, generated from the same zod schemas that validate requests. */
export function bookingOpenApi() {
  const registry = createOpenApiRegistry();
  const b = bookingHttp;
  const bookingId = b.bookingIdParams;

  registry.registerPath({
    method: 'post',
    path: '/api/v1/scheduling/slots',
    summary: 'Publish an availability slot (teacher): future, end after start, at most 4 h',
    security,
    request: { body: { content: { 'application/json': { schema: b.createSlotBody } } } },
    responses: { 201: json(b.slotSchema, 'The new slot (open)'), ...problemResponses(400, 401, 403, 409) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/scheduling/slots',
    summary: 'List slots with their derived status (any user)',
    security,
    request: { query: b.slotsQuery },
    responses: { 200: json(b.slotPage, 'A page of slots'), ...problemResponses(400, 401) },
  });
  registry.registerPath({
    method: 'delete',
    path: '/api/v1/scheduling/slots/{slotId}',
    summary: 'Withdraw a slot (its teacher); a live booking on it → 409 slot_has_booking',
    security,
    request: { params: b.slotIdParams },
    responses: { 204: { description: 'Withdrawn' }, ...problemResponses(400, 401, 403, 404, 409) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/booking/hold',
    summary: 'Hold an open slot (student); Idempotency-Key supported',
    security,
    request: {
      headers: z.object({ 'Idempotency-Key': b.idempotencyKey.optional() }),
      body: { content: { 'application/json': { schema: b.holdBody } } },
    },
    responses: { 201: json(b.bookingSchema, 'The hold'), ...problemResponses(400, 401, 403, 404, 409, 422) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/booking/{id}/confirm',
    summary: 'Confirm a hold (its student): 202 confirming, or 200 settled with `Prefer: wait=N` (N ≤ 10)',
    security,
    request: { params: bookingId, headers: z.object({ Prefer: z.string().optional() }), body: { content: { 'application/json': { schema: b.confirmBody } } } },
    responses: {
      200: json(b.bookingSchema, 'Settled (confirmed or rejected), or already confirmed'),
      202: json(b.bookingSchema, 'Confirming: billing is debiting a lesson'),
      ...problemResponses(400, 401, 403, 404, 409),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/booking/{id}/cancel',
    summary: 'Cancel (its student, its teacher, admin); refundable is decided once',
    security,
    request: { params: bookingId, body: { content: { 'application/json': { schema: b.cancelBody } } } },
    responses: { 200: json(b.bookingSchema, 'Canceled (or already canceled)'), ...problemResponses(400, 401, 404, 409) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/booking/{id}/reschedule',
    summary: 'Move a confirmed booking to another slot (its student)',
    security,
    request: { params: bookingId, body: { content: { 'application/json': { schema: b.rescheduleBody } } } },
    responses: {
      201: json(b.bookingSchema, 'The new booking (confirming)'),
      200: json(b.bookingSchema, 'A retry: the successor made before'),
      ...problemResponses(400, 401, 403, 404, 409),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/booking/{id}',
    summary: 'A booking (its student, its teacher, admin)',
    security,
    request: { params: bookingId },
    responses: { 200: json(b.bookingSchema, 'The booking'), ...problemResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/booking/my',
    summary: "A student's bookings, or the bookings on a teacher's slots; newest first",
    security,
    request: { query: b.myBookingsQuery },
    responses: { 200: json(b.bookingPage, 'A page of bookings'), ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/booking/holds/expire',
    summary: 'Expire every hold past its time (admin)',
    security,
    responses: { 200: json(b.expireHoldsResult, 'How many holds were expired'), ...problemResponses(401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/internal/ops',
    summary: 'Operations figures for the admin service (admin token)',
    security,
    responses: { 200: json(b.bookingOpsSchema, 'Outbox backlog, stale holds, stuck confirmations'), ...problemResponses(401, 403) },
  });

  return generateOpenApiDocument(registry, { title: 'GuitarOnline booking', version: '1.0.0', description: 'Scheduling (slots) and booking (holds, confirm, cancel, reschedule).' });
}
