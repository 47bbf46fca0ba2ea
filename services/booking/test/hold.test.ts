import { DAY, MINUTE, awaitEvents, recorded, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const hold = (token: string, slotId: string, headers?: Record<string, string>) => h.api('POST', '/api/v1/booking/hold', { token, body: { slotId }, headers });

describe('holds', () => {
  test('when a student holds an open slot, then 201 Booking in hold for BOOKING_HOLD_MINUTES and booking.held is published', async () => {
    const slot = await h.slot(2 * DAY);
    const student = h.user('student');
    const before = h.clock.now().getTime();
    const res = await hold(student.token, slot.id);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      slotId: slot.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      packageId: null,
      status: 'hold',
      startAt: slot.startAt,
      refundable: null,
      rejectReason: null,
      cancelReason: null,
      canceledBy: null,
      rescheduledFromId: null,
      rescheduledToId: null,
    });
    const expiresIn = Date.parse(res.body.holdExpiresAt) - before;
    expect(expiresIn).toBeGreaterThanOrEqual(10 * MINUTE - 50);
    expect(expiresIn).toBeLessThanOrEqual(10 * MINUTE + 5_000);
    const [event] = await awaitEvents(h, 'booking.held', res.body.id);
    expect(event.payload).toEqual({
      bookingId: res.body.id,
      slotId: slot.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      startAt: slot.startAt,
      endAt: res.body.endAt,
      holdExpiresAt: res.body.holdExpiresAt,
    });
    expect(event.correlationId).toBe(res.headers.get('x-request-id'));
  });

  test('when 50 students hold the same slot at once, then exactly one gets 201 and the rest 409 slot_unavailable, no 5xx', async () => {
    const slot = await h.slot(2 * DAY);
    const students = Array.from({ length: 50 }, () => h.user('student'));
    const results = await Promise.all(students.map((s) => hold(s.token, slot.id)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'slot_unavailable')).toBe(true);
    const list = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: students[0].token });
    expect(list.body.items[0].status).toBe('held');
  });

  test('when a student already has BOOKING_MAX_ACTIVE_HOLDS live holds, then the next is 409 too_many_holds, also under concurrency', async () => {
    const student = h.user('student');
    const slots = await Promise.all(Array.from({ length: 6 }, (_, i) => h.slot((i + 2) * DAY)));
    const results = await Promise.all(slots.map((s) => hold(student.token, s.id)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(3);
    expect(refused.every((r) => r.status === 409 && r.body.code === 'too_many_holds')).toBe(true);
    // canceling one frees a place
    const first = results.find((r) => r.status === 201)!;
    expect((await h.api('POST', `/api/v1/booking/${first.body.id}/cancel`, { token: student.token, body: {} })).status).toBe(200);
    const free = slots.find((s) => !results.some((r) => r.status === 201 && r.body.slotId === s.id))!;
    expect((await hold(student.token, free.id)).status).toBe(201);
  });

  test('when the same Idempotency-Key and body are sent again, then the first response comes back and nothing new is made', async () => {
    const slot = await h.slot(2 * DAY);
    const student = h.user('student');
    const key = `hold-${slot.id}`;
    const first = await hold(student.token, slot.id, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const again = await hold(student.token, slot.id, { 'Idempotency-Key': key });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // concurrent replays: still one booking
    const burst = await Promise.all(Array.from({ length: 5 }, () => hold(student.token, slot.id, { 'Idempotency-Key': key })));
    expect(burst.every((r) => r.status === 201 && r.body.id === first.body.id)).toBe(true);
    const mine = await h.api('GET', '/api/v1/booking/my', { token: student.token });
    expect(mine.body.items).toHaveLength(1);
    expect(await recorded(h, 'booking.held', first.body.id)).toBe(1);
  });

  test('when an Idempotency-Key is reused with another body, then 422 idempotency_key_reused; other users have their own keys', async () => {
    const student = h.user('student');
    const [a, b] = await Promise.all([h.slot(2 * DAY), h.slot(3 * DAY)]);
    expect((await hold(student.token, a.id, { 'Idempotency-Key': 'k-1' })).status).toBe(201);
    const reused = await hold(student.token, b.id, { 'Idempotency-Key': 'k-1' });
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect((await hold(h.user('student').token, b.id, { 'Idempotency-Key': 'k-1' })).status).toBe(201);
  });

  test('when a hold is refused, then its Idempotency-Key is not spent: a retry runs again', async () => {
    const slot = await h.slot(2 * DAY);
    const taker = h.user('student');
    expect((await hold(taker.token, slot.id)).status).toBe(201);
    const student = h.user('student');
    expect((await hold(student.token, slot.id, { 'Idempotency-Key': 'retry-me' })).status).toBe(409);
    expect((await h.api('POST', `/api/v1/booking/${(await h.api('GET', '/api/v1/booking/my', { token: taker.token })).body.items[0].id}/cancel`, { token: taker.token })).status).toBe(200);
    expect((await hold(student.token, slot.id, { 'Idempotency-Key': 'retry-me' })).status).toBe(201);
  });

  test('when the slot has started, was withdrawn or does not exist, then 409 slot_unavailable / 404', async () => {
    const soon = await h.slot(MINUTE);
    h.clock.advance(2 * MINUTE);
    const started = await hold(h.user('student').token, soon.id);
    expect(started.status).toBe(409);
    expect(started.body.code).toBe('slot_unavailable');
    const withdrawn = await h.slot(2 * DAY);
    expect((await h.api('DELETE', `/api/v1/scheduling/slots/${withdrawn.id}`, { token: withdrawn.teacher.token })).status).toBe(204);
    const gone = await hold(h.user('student').token, withdrawn.id);
    expect(gone.status).toBe(409);
    expect(gone.body.code).toBe('slot_unavailable');
    expect((await hold(h.user('student').token, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  test('when a teacher, an admin or nobody tries to hold, then 403 / 403 / 401; bad bodies and keys are 400', async () => {
    const slot = await h.slot(2 * DAY);
    expect((await hold(h.user('teacher').token, slot.id)).status).toBe(403);
    expect((await hold(h.user('admin').token, slot.id)).status).toBe(403);
    expect((await h.api('POST', '/api/v1/booking/hold', { body: { slotId: slot.id } })).status).toBe(401);
    const student = h.user('student');
    const bad = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: 'x', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body', 'body.slotId']);
    const malformed = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: '{"slotId":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');
    const badKey = await hold(student.token, slot.id, { 'Idempotency-Key': 'x'.repeat(300) });
    expect(badKey.status).toBe(400);
    expect(badKey.body.errors[0].path).toBe('headers.Idempotency-Key');
    expect((await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: [] })).status).toBe(400);
  });
});
