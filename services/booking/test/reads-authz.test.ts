import { startTestIssuer } from '@guitaronline/testing';
import { DAY, confirmedBooking, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('reads and object-level authorization', () => {
  test('when its student, its teacher or an admin reads a booking, then 200; another student or teacher gets 404', async () => {
    const { booking, student, slot } = await confirmedBooking(h);
    for (const token of [student.token, slot.teacher.token, h.user('admin').token]) {
      const res = await h.api('GET', `/api/v1/booking/${booking.id}`, { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(booking);
    }
    expect((await h.api('GET', `/api/v1/booking/${booking.id}`, { token: h.user('student').token })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/booking/${booking.id}`, { token: h.user('teacher').token })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/booking/${booking.id}`)).status).toBe(401);
    expect((await h.api('GET', '/api/v1/booking/123', { token: student.token })).status).toBe(400);
  });

  test('when a booking is read, then it has exactly the API.md Booking fields', async () => {
    const { booking } = await confirmedBooking(h);
    expect(Object.keys(booking).sort()).toEqual(
      [
        'id',
        'slotId',
        'studentId',
        'teacherId',
        'packageId',
        'status',
        'startAt',
        'endAt',
        'holdExpiresAt',
        'refundable',
        'rejectReason',
        'cancelReason',
        'canceledBy',
        'rescheduledFromId',
        'rescheduledToId',
        'createdAt',
        'updatedAt',
      ].sort(),
    );
  });

  test('when students and teachers list their bookings, then each sees only theirs, newest first, filtered by status and paged', async () => {
    const student = h.user('student');
    const teacher = h.user('teacher');
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const slot = await h.slot((i + 2) * DAY, teacher);
      const res = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
      ids.push(res.body.id);
    }
    await h.api('POST', `/api/v1/booking/${ids[0]}/cancel`, { token: student.token });
    const other = await confirmedBooking(h);

    const mine = await h.api('GET', '/api/v1/booking/my', { token: student.token });
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((b: { id: string }) => b.id)).toEqual([...ids].reverse());
    expect(mine.body.nextCursor).toBeNull();
    const holds = await h.api('GET', '/api/v1/booking/my?status=hold', { token: student.token });
    expect(holds.body.items.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    const page1 = await h.api('GET', '/api/v1/booking/my?limit=2', { token: student.token });
    expect(page1.body.items).toHaveLength(2);
    const page2 = await h.api('GET', `/api/v1/booking/my?limit=2&cursor=${page1.body.nextCursor}`, { token: student.token });
    expect(page2.body.items.map((b: { id: string }) => b.id)).toEqual([ids[0]]);
    expect(page2.body.nextCursor).toBeNull();

    const teachers = await h.api('GET', '/api/v1/booking/my', { token: teacher.token });
    expect(teachers.body.items.map((b: { id: string }) => b.id)).toEqual([...ids].reverse());
    const othersView = await h.api('GET', '/api/v1/booking/my', { token: other.student.token });
    expect(othersView.body.items.map((b: { id: string }) => b.id)).toEqual([other.booking.id]);

    expect((await h.api('GET', '/api/v1/booking/my?status=nope', { token: student.token })).status).toBe(400);
    expect((await h.api('GET', '/api/v1/booking/my', { token: h.user('admin').token })).status).toBe(403);
  });

  test('when a token is missing, forged or expired, then 401 problem+json', async () => {
    const stranger = await startTestIssuer();
    try {
      for (const headers of <Record<string, string>[]>[{}, { authorization: 'Bearer nonsense' }, { authorization: `Bearer ${stranger.token({ role: 'admin' })}` }, { authorization: `Bearer ${h.issuer.token({ role: 'student' }, { expiresInSeconds: -60 })}` }]) {
        const res = await h.api('GET', '/api/v1/booking/my', { headers });
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('unauthorized');
        expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
    } finally {
      await stranger.close();
    }
  });

  test('when the service is asked for health, readiness, metrics, OpenAPI or an unknown route, then it answers', async () => {
    expect((await h.api('GET', '/health')).body).toEqual({ status: 'ok' });
    expect((await h.api('GET', '/ready')).status).toBe(200);
    expect((await fetch(`${h.svc.url}/metrics`)).status).toBe(200);
    const doc = await h.api('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths).sort()).toEqual(
      [
        '/api/v1/booking/hold',
        '/api/v1/booking/my',
        '/api/v1/booking/holds/expire',
        '/api/v1/booking/{id}',
        '/api/v1/booking/{id}/cancel',
        '/api/v1/booking/{id}/confirm',
        '/api/v1/booking/{id}/reschedule',
        '/api/v1/scheduling/slots',
        '/api/v1/scheduling/slots/{slotId}',
        '/internal/ops',
      ].sort(),
    );
    expect(doc.body.components.schemas.Booking).toBeDefined();
    const missing = await h.api('GET', '/api/v1/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
  });

  test('when a body is too large, then 413 payload_too_large, never 500', async () => {
    const student = h.user('student');
    const res = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: JSON.stringify({ slotId: 'x'.repeat(1_100_000) }) });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });
});
