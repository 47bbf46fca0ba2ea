import { eventually } from '@guitaronline/testing';
import { apiClient, startSagaStack, type SagaStack } from '../support/stack';

const HOUR = 3_600_000;

describe('booking saga across identity, booking, billing and lessons, through the gateway', () => {
  let stack: SagaStack;
  let api: ReturnType<typeof apiClient>;
  let admin: { token: string };

  beforeAll(async () => {
    stack = await startSagaStack();
    api = apiClient(stack.url);
    const creds = await stack.createAdmin();
    admin = await api.login(creds.email, creds.password);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  let slotSeq = 0;
  async function slot(teacher: { token: string }, startsInMs: number) {
    // each slot of a teacher gets its own hour so they never overlap
    const startAt = new Date(Date.now() + startsInMs + slotSeq++ * 2 * HOUR);
    startAt.setUTCMinutes(0, 0, 0);
    const res = await api.call('POST', '/api/v1/scheduling/slots', {
      token: teacher.token,
      body: { startAt: startAt.toISOString(), endAt: new Date(startAt.getTime() + HOUR).toISOString() },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; startAt: string };
  }

  async function pkg(studentId: string, lessonsTotal: number) {
    const res = await api.call('POST', '/api/v1/billing/packages', {
      token: admin.token,
      body: { studentId, lessonsTotal, expiresAt: new Date(Date.now() + 90 * 24 * HOUR).toISOString(), priceCents: 12000, currency: 'EUR' },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; lessonsLeft: number };
  }

  async function holdAndConfirm(student: { token: string }, slotId: string) {
    const hold = await api.call('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId } });
    expect(hold.status).toBe(201);
    const confirm = await api.call('POST', `/api/v1/booking/${hold.body.id}/confirm`, { token: student.token, body: {}, headers: { prefer: 'wait=5' } });
    expect([200, 202]).toContain(confirm.status);
    const settled = await eventually(async () => {
      const b = await api.call('GET', `/api/v1/booking/${hold.body.id}`, { token: student.token });
      return b.body.status !== 'confirming' && b.body.status !== 'hold' ? b.body : undefined;
    });
    return settled as { id: string; status: string; packageId: string | null };
  }

  const lessonOf = (token: string, bookingId: string) => api.call('GET', `/api/v1/lessons/by-booking/${bookingId}`, { token });
  const packageOf = async (token: string, id: string) => (await api.call('GET', `/api/v1/billing/packages/${id}`, { token })).body;

  test('when a student holds and confirms, one lesson leaves the package and exactly one lesson is scheduled', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const p = await pkg(student.id, 5);
    const s = await slot(teacher, 72 * HOUR);
    const booking = await holdAndConfirm(student, s.id);
    expect(booking.status).toBe('confirmed');
    expect(booking.packageId).toBe(p.id);
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(4);
    const lesson = await eventually(async () => {
      const l = await lessonOf(student.token, booking.id);
      return l.status === 200 ? l.body : undefined;
    });
    expect(lesson).toMatchObject({ bookingId: booking.id, status: 'scheduled' });
    const mine = await api.call('GET', '/api/v1/lessons/my', { token: student.token });
    expect(mine.body.items.filter((l: { bookingId: string }) => l.bookingId === booking.id)).toHaveLength(1);
    // a repeated confirm changes nothing
    const again = await api.call('POST', `/api/v1/booking/${booking.id}/confirm`, { token: student.token, body: {} });
    expect(again.status).toBe(200);
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(4);
  });

  test('when a confirmed booking is canceled more than 24 h ahead, the lesson returns to the package and the lesson is canceled', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const p = await pkg(student.id, 3);
    const booking = await holdAndConfirm(student, (await slot(teacher, 72 * HOUR)).id);
    await eventually(async () => (await lessonOf(student.token, booking.id)).status === 200);
    const cancel = await api.call('POST', `/api/v1/booking/${booking.id}/cancel`, { token: student.token, body: { reason: 'travel' } });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'canceled', refundable: true });
    await eventually(async () => (await packageOf(student.token, p.id)).lessonsLeft === 3);
    await eventually(async () => (await lessonOf(student.token, booking.id)).body.status === 'canceled');
    const twice = await api.call('POST', `/api/v1/booking/${booking.id}/cancel`, { token: student.token, body: {} });
    expect(twice.status).toBe(200);
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(3);
  });

  test('when a confirmed booking is canceled inside 24 h, no lesson returns and the lesson is canceled', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const p = await pkg(student.id, 3);
    const booking = await holdAndConfirm(student, (await slot(teacher, 3 * HOUR)).id);
    await eventually(async () => (await lessonOf(student.token, booking.id)).status === 200);
    const cancel = await api.call('POST', `/api/v1/booking/${booking.id}/cancel`, { token: student.token, body: {} });
    expect(cancel.body).toMatchObject({ status: 'canceled', refundable: false });
    await eventually(async () => (await lessonOf(student.token, booking.id)).body.status === 'canceled');
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(2);
  });

  test('when a booking is rescheduled, the balance stays right, both bookings are linked and a retry returns the same successor', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const p = await pkg(student.id, 4);
    const first = await holdAndConfirm(student, (await slot(teacher, 72 * HOUR)).id);
    const next = await slot(teacher, 96 * HOUR);
    const res = await api.call('POST', `/api/v1/booking/${first.id}/reschedule`, { token: student.token, body: { newSlotId: next.id } });
    expect(res.status).toBe(201);
    expect(res.body.rescheduledFromId).toBe(first.id);
    const retry = await api.call('POST', `/api/v1/booking/${first.id}/reschedule`, { token: student.token, body: { newSlotId: next.id } });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(res.body.id);
    const successor = await eventually(async () => {
      const b = await api.call('GET', `/api/v1/booking/${res.body.id}`, { token: student.token });
      return b.body.status === 'confirmed' ? b.body : undefined;
    });
    const old = await api.call('GET', `/api/v1/booking/${first.id}`, { token: student.token });
    expect(old.body).toMatchObject({ status: 'canceled', rescheduledToId: successor.id });
    // old refunded (> 24 h ahead), new debited: 4 - 1 + 1 - 1
    await eventually(async () => (await packageOf(student.token, p.id)).lessonsLeft === 3);
    await eventually(async () => (await lessonOf(student.token, first.id)).body.status === 'canceled');
    await eventually(async () => (await lessonOf(student.token, successor.id)).body?.status === 'scheduled');
  });

  test('when a booking that took the last lesson of its package is rescheduled more than 24 h ahead, the returned lesson pays for the successor', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const p = await pkg(student.id, 1);
    const first = await holdAndConfirm(student, (await slot(teacher, 72 * HOUR)).id);
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(0);
    const res = await api.call('POST', `/api/v1/booking/${first.id}/reschedule`, { token: student.token, body: { newSlotId: (await slot(teacher, 96 * HOUR)).id } });
    expect(res.status).toBe(201);
    // billing may see the successor's debit request before the old booking's cancel: either way it is confirmed
    const successor = await eventually(async () => {
      const b = await api.call('GET', `/api/v1/booking/${res.body.id}`, { token: student.token });
      return b.body.status !== 'confirming' ? b.body : undefined;
    });
    expect(successor.status).toBe('confirmed');
    await eventually(async () => (await lessonOf(student.token, successor.id)).body?.status === 'scheduled');
    await eventually(async () => (await lessonOf(student.token, first.id)).body.status === 'canceled');
    expect((await packageOf(student.token, p.id)).lessonsLeft).toBe(0);
  });

  test('when a hold expires, the slot is free for another student', async () => {
    const teacher = await api.register('teacher');
    const first = await api.register('student');
    const second = await api.register('student');
    const s = await slot(teacher, 72 * HOUR);
    const hold = await api.call('POST', '/api/v1/booking/hold', { token: first.token, body: { slotId: s.id } });
    expect(hold.status).toBe(201);
    expect((await api.call('POST', '/api/v1/booking/hold', { token: second.token, body: { slotId: s.id } })).status).toBe(409);
    stack.time.advance(11 * 60_000);
    try {
      const expired = await api.call('POST', '/api/v1/booking/holds/expire', { token: admin.token });
      expect(expired.status).toBe(200);
      expect(expired.body.expired).toBeGreaterThanOrEqual(1);
    } finally {
      stack.time.reset();
    }
    expect((await api.call('GET', `/api/v1/booking/${hold.body.id}`, { token: first.token })).body.status).toBe('expired');
    const retake = await api.call('POST', '/api/v1/booking/hold', { token: second.token, body: { slotId: s.id } });
    expect(retake.status).toBe(201);
  });

  test('when the student has no active package, the booking is rejected and the slot is open again', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const s = await slot(teacher, 72 * HOUR);
    const booking = await holdAndConfirm(student, s.id);
    expect(booking.status).toBe('rejected');
    const other = await api.register('student');
    expect((await api.call('POST', '/api/v1/booking/hold', { token: other.token, body: { slotId: s.id } })).status).toBe(201);
  });

  test('when a package of N meets N+10 concurrent confirms, exactly N are confirmed and the balance ends at 0', async () => {
    const n = 3;
    const student = await api.register('student');
    const p = await pkg(student.id, n);
    const teachers = await Promise.all(Array.from({ length: n + 10 }, () => api.register('teacher')));
    const slots = await Promise.all(teachers.map((t) => slot(t, 72 * HOUR)));
    // holds are capped per student, so hold and confirm in waves of three
    const results: { status: string }[] = [];
    for (let i = 0; i < slots.length; i += 3) {
      const wave = slots.slice(i, i + 3);
      results.push(...(await Promise.all(wave.map((s) => holdAndConfirm(student, s.id)))));
    }
    expect(results.filter((b) => b.status === 'confirmed')).toHaveLength(n);
    expect(results.filter((b) => b.status === 'rejected')).toHaveLength(10);
    const final = await packageOf(student.token, p.id);
    expect(final).toMatchObject({ lessonsLeft: 0, status: 'depleted' });
  });

  test("a student cannot read or change another student's booking, package or lesson", async () => {
    const teacher = await api.register('teacher');
    const owner = await api.register('student');
    const intruder = await api.register('student');
    const p = await pkg(owner.id, 2);
    const booking = await holdAndConfirm(owner, (await slot(teacher, 72 * HOUR)).id);
    const lesson = await eventually(async () => {
      const l = await lessonOf(owner.token, booking.id);
      return l.status === 200 ? l.body : undefined;
    });
    for (const [method, path, body] of [
      ['GET', `/api/v1/booking/${booking.id}`, undefined],
      ['POST', `/api/v1/booking/${booking.id}/cancel`, {}],
      ['GET', `/api/v1/billing/packages/${p.id}`, undefined],
      ['GET', `/api/v1/lessons/${lesson.id}`, undefined],
      ['GET', `/api/v1/lessons/by-booking/${booking.id}`, undefined],
    ] as const) {
      const res = await api.call(method, path, { token: intruder.token, body });
      expect([403, 404]).toContain(res.status);
    }
    expect((await api.call('GET', `/api/v1/booking/${booking.id}`, { token: owner.token })).body.status).toBe('confirmed');
  });
});
