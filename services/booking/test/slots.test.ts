import { eventually } from '@guitaronline/testing';
import { DAY, HOUR, MINUTE, consumed, recorded, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function times(fromNowMs: number, lengthMs = HOUR) {
  const startAt = new Date(h.clock.now().getTime() + fromNowMs);
  return { startAt: startAt.toISOString(), endAt: new Date(startAt.getTime() + lengthMs).toISOString() };
}

describe('scheduling slots', () => {
  test('when a teacher publishes a future slot, then it is 201 open and booking.slot.created is published', async () => {
    const teacher = h.user('teacher');
    const body = times(2 * DAY);
    const res = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), teacherId: teacher.id, startAt: body.startAt, endAt: body.endAt, status: 'open', teacherDisplayName: null });
    const event = await eventually(() => h.capture.ofType('booking.slot.created').find((e) => e.payload.slotId === res.body.id));
    expect(event.payload).toEqual({ slotId: res.body.id, teacherId: teacher.id, startAt: body.startAt, endAt: body.endAt });
    expect(event.source).toBe('booking');
  });

  test('when a slot overlaps another of the same teacher, then 409 slot_overlap; another teacher may use the same time', async () => {
    const teacher = h.user('teacher');
    expect((await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY) })).status).toBe(201);
    const overlap = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY + 30 * MINUTE) });
    expect(overlap.status).toBe(409);
    expect(overlap.body.code).toBe('slot_overlap');
    expect(overlap.headers.get('content-type')).toContain('application/problem+json');
    // touching end-to-start is not an overlap (half-open ranges)
    expect((await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY + HOUR) })).status).toBe(201);
    expect((await h.api('POST', '/api/v1/scheduling/slots', { token: h.user('teacher').token, body: times(DAY) })).status).toBe(201);
  });

  test('when two overlapping slots are created at the same time, then one is 201 and the other 409, never 500', async () => {
    const teacher = h.user('teacher');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(5 * DAY + i * MINUTE) })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'slot_overlap')).toBe(true);
  });

  test('when a slot is in the past, ends before it starts or lasts over 4 h, then 400 with field errors', async () => {
    const teacher = h.user('teacher');
    const past = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(-HOUR) });
    expect(past.status).toBe(400);
    expect(past.body.code).toBe('validation_failed');
    expect(past.body.errors).toEqual([{ path: 'body.startAt', message: 'must be in the future' }]);
    const backwards = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY, -HOUR) });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors[0].path).toBe('body.endAt');
    const long = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY, 4 * HOUR + MINUTE) });
    expect(long.status).toBe(400);
    expect((await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: times(DAY, 4 * HOUR) })).status).toBe(201);
    const junk = await h.api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: { startAt: 'tomorrow', endAt: 5, extra: true } });
    expect(junk.status).toBe(400);
    expect(junk.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body', 'body.endAt', 'body.startAt']);
  });

  test('when a student or an anonymous caller publishes a slot, then 403 / 401', async () => {
    expect((await h.api('POST', '/api/v1/scheduling/slots', { token: h.user('student').token, body: times(DAY) })).status).toBe(403);
    expect((await h.api('POST', '/api/v1/scheduling/slots', { body: times(DAY) })).status).toBe(401);
  });

  test('when slots are listed, then their status follows the live booking and filters apply', async () => {
    const teacher = h.user('teacher');
    const a = await h.slot(3 * DAY, teacher);
    const b = await h.slot(4 * DAY, teacher);
    const student = h.user('student');
    const hold = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: b.id } });
    expect(hold.status).toBe(201);

    const all = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacher.id}`, { token: student.token });
    expect(all.status).toBe(200);
    expect(all.body.items.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      [b.id, 'held'],
      [a.id, 'open'],
    ]);
    const open = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacher.id}&status=open`, { token: student.token });
    expect(open.body.items.map((s: { id: string }) => s.id)).toEqual([a.id]);
    const window = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacher.id}&from=${encodeURIComponent(a.startAt)}&to=${encodeURIComponent(b.startAt)}`, {
      token: student.token,
    });
    expect(window.body.items.map((s: { id: string }) => s.id)).toEqual([a.id]);
    const calendar = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacher.id}&sort=startAt`, { token: student.token });
    expect(calendar.body.items.map((s: { id: string }) => s.id)).toEqual([a.id, b.id]);
  });

  test('when slots are paged, then each page continues where the last stopped', async () => {
    const teacher = h.user('teacher');
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await h.slot((i + 1) * DAY, teacher)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacher.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        token: teacher.token,
      });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((s: { id: string }) => s.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await h.api('GET', '/api/v1/scheduling/slots?limit=0', { token: teacher.token })).status).toBe(400);
    expect((await h.api('GET', '/api/v1/scheduling/slots?limit=201', { token: teacher.token })).status).toBe(400);
    const badCursor = await h.api('GET', '/api/v1/scheduling/slots?cursor=nonsense', { token: teacher.token });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.errors[0].path).toBe('query.cursor');
  });

  test('when the owning teacher deletes a free slot, then 204, booking.slot.deleted, and it is gone from the list; a repeat is 204 with no second event', async () => {
    const slot = await h.slot(2 * DAY);
    const del = await h.api('DELETE', `/api/v1/scheduling/slots/${slot.id}`, { token: slot.teacher.token });
    expect(del.status).toBe(204);
    await eventually(() => h.capture.ofType('booking.slot.deleted').some((e) => e.payload.slotId === slot.id));
    const list = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: slot.teacher.token });
    expect(list.body.items).toEqual([]);
    expect((await h.api('DELETE', `/api/v1/scheduling/slots/${slot.id}`, { token: slot.teacher.token })).status).toBe(204);
    // the time is free again for the teacher
    const again = await h.api('POST', '/api/v1/scheduling/slots', { token: slot.teacher.token, body: { startAt: slot.startAt, endAt: new Date(Date.parse(slot.startAt) + HOUR).toISOString() } });
    expect(again.status).toBe(201);
    const hold = await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: slot.id } });
    expect(hold.status).toBe(409);
    expect(hold.body.code).toBe('slot_unavailable');
    expect(await recorded(h, 'booking.slot.deleted', slot.id)).toBe(1);
  });

  test('when a slot has a live booking, then deleting it is 409 slot_has_booking; another teacher gets 403', async () => {
    const slot = await h.slot(2 * DAY);
    const hold = await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: slot.id } });
    expect(hold.status).toBe(201);
    const del = await h.api('DELETE', `/api/v1/scheduling/slots/${slot.id}`, { token: slot.teacher.token });
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('slot_has_booking');
    expect((await h.api('DELETE', `/api/v1/scheduling/slots/${slot.id}`, { token: h.user('teacher').token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/scheduling/slots/not-a-uuid`, { token: slot.teacher.token })).status).toBe(400);
  });

  test("when identity publishes teacher profile changes, then slots show the newest display name, whatever the order they arrive in", async () => {
    const slot = await h.slot(2 * DAY);
    const teacherId = slot.teacher.id;
    const listed = async () => (await h.api('GET', `/api/v1/scheduling/slots?teacherId=${teacherId}`, { token: slot.teacher.token })).body.items[0].teacherDisplayName;
    expect(await listed()).toBeNull();
    const newer = new Date(Date.now() - 1_000);
    const older = new Date(Date.now() - 60_000);
    const first = await h.publish('identity.teacher.profile_updated', { teacherId, displayName: 'Django R.', timezone: 'Europe/Paris' }, { occurredAt: newer });
    await h.publish('identity.teacher.profile_updated', { teacherId, displayName: 'Django R.', timezone: 'Europe/Paris' }, { occurredAt: newer, id: first });
    const stale = await h.publish('identity.teacher.profile_updated', { teacherId, displayName: 'Old Name', timezone: 'UTC' }, { occurredAt: older });
    await consumed(h, first, stale);
    expect(await listed()).toBe('Django R.');
    const created = await h.api('POST', '/api/v1/scheduling/slots', {
      token: slot.teacher.token,
      body: { startAt: new Date(Date.parse(slot.startAt) + DAY).toISOString(), endAt: new Date(Date.parse(slot.startAt) + DAY + HOUR).toISOString() },
    });
    expect(created.body.teacherDisplayName).toBe('Django R.');
  });
});
