import { randomUUID } from 'node:crypto';
import { apiCall, captureMessages, deleteBus, eventPublisher, eventually, isolatedBus, manualClock, privateDatabase, queueDepth, startTestIssuer, testEnv, whileFirstIsOpen, type ApiCallOptions, type EventPublisher, type PrivateDatabase, type TestIssuer } from '@guitaronline/testing';
import { createLogger } from '@guitaronline/platform';
import { start, type LessonsService } from '../src/main';
import { cancelLessonForBooking, scheduleLessonAtOnce } from '../src/domain/lessons';

const HOUR = 3_600_000;

describe('lessons service', () => {
  const bus = isolatedBus();
  const clock = manualClock();
  let issuer: TestIssuer;
  let database: PrivateDatabase;
  let service: LessonsService;
  let publisher: EventPublisher;
  let capture: Awaited<ReturnType<typeof captureMessages>>;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    database = await privateDatabase(['lessons']);
    service = await start(testEnv({ ...bus, DATABASE_URL: database.url, IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', '') }), { clock });
    publisher = await eventPublisher(bus.EVENTS_EXCHANGE);
    capture = await captureMessages(bus.EVENTS_EXCHANGE, 'lesson.#');
  });

  afterAll(async () => {
    await capture?.close();
    await publisher?.close();
    await service?.stop();
    await issuer?.close();
    await deleteBus(bus, ['lessons']);
    await database?.drop();
  });

  beforeEach(() => clock.set(new Date()));

  const api = (method: string, path: string, options: ApiCallOptions = {}) => apiCall(service.url, method, path, options);
  const tokenOf = (sub: string, role: 'student' | 'teacher' | 'admin') => issuer.token({ sub, role });

  function aBooking(overrides: Partial<Record<string, unknown>> = {}) {
    const startAt = new Date(clock().getTime() + 48 * HOUR);
    return {
      bookingId: randomUUID(),
      slotId: randomUUID(),
      studentId: randomUUID(),
      teacherId: randomUUID(),
      packageId: randomUUID(),
      startAt: startAt.toISOString(),
      endAt: new Date(startAt.getTime() + HOUR).toISOString(),
      ...overrides,
    };
  }

  function canceledOf(booking: ReturnType<typeof aBooking>, overrides: Partial<Record<string, unknown>> = {}) {
    return {
      bookingId: booking.bookingId,
      packageId: booking.packageId,
      wasConfirmed: true,
      refundable: true,
      canceledBy: 'student',
      canceledById: booking.studentId,
      studentId: booking.studentId,
      teacherId: booking.teacherId,
      slotId: booking.slotId,
      startAt: booking.startAt,
      ...overrides,
    };
  }

  /** Waits until the consumer has committed the message (its inbox row), so "nothing happened" can be asserted. */
  const consumed = (messageId: string) =>
    eventually(async () => (await service.db('inbox').where({ message_id: messageId }).first()) !== undefined);

  const lessonRows = (bookingId: string) => service.db('lessons').where({ booking_id: bookingId });
  const eventsFor = (type: string, bookingId: string) => capture.ofType(type).filter((e) => e.payload.bookingId === bookingId);

  async function confirmedLesson(overrides: Partial<Record<string, unknown>> = {}) {
    const booking = aBooking(overrides);
    const sent = await publisher.publish('booking.confirmed', booking);
    await consumed(sent.id);
    const res = await api('GET', `/api/v1/lessons/by-booking/${booking.bookingId}`, { token: tokenOf(booking.studentId, 'student') });
    expect(res.status).toBe(200);
    return { booking, lesson: res.body };
  }

  test('when booking.confirmed arrives, then exactly one scheduled lesson exists and lesson.created is published', async () => {
    const booking = aBooking();
    await publisher.publish('booking.confirmed', booking);

    const lesson = await eventually(async () => {
      const res = await api('GET', `/api/v1/lessons/by-booking/${booking.bookingId}`, { token: tokenOf(booking.studentId, 'student') });
      return res.status === 200 ? res.body : undefined;
    });
    expect(lesson).toEqual({
      id: expect.any(String),
      bookingId: booking.bookingId,
      studentId: booking.studentId,
      teacherId: booking.teacherId,
      startAt: booking.startAt,
      endAt: booking.endAt,
      status: 'scheduled',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const created = await eventually(() => eventsFor('lesson.created', booking.bookingId)[0]);
    expect(created.source).toBe('lessons');
    expect(created.payload).toEqual({
      lessonId: lesson.id,
      bookingId: booking.bookingId,
      studentId: booking.studentId,
      teacherId: booking.teacherId,
      startAt: booking.startAt,
      endAt: booking.endAt,
    });
  });

  test('when the same booking.confirmed is delivered twice, and again under a new message id, then there is still one lesson and one lesson.created', async () => {
    const booking = aBooking();
    const first = await publisher.publish('booking.confirmed', booking);
    await publisher.publish('booking.confirmed', booking, { id: first.id });
    const third = await publisher.publish('booking.confirmed', booking);
    await consumed(first.id);
    await consumed(third.id);

    expect(await lessonRows(booking.bookingId)).toHaveLength(1);
    await eventually(() => eventsFor('lesson.created', booking.bookingId).length === 1);
    const stored = await service.db('inbox').where({ message_id: first.id });
    expect(stored).toHaveLength(1);
    // the outbox holds exactly one lesson.created for the booking (nothing pending that could still show up)
    const outbox = await service.db('outbox').where({ type: 'lesson.created' }).whereRaw(`envelope->'payload'->>'bookingId' = ?`, [booking.bookingId]);
    expect(outbox).toHaveLength(1);
  });

  test('when booking.canceled arrives after booking.confirmed, then the lesson is canceled and lesson.canceled is published once, even if the cancel comes twice', async () => {
    const { booking, lesson } = await confirmedLesson();
    const cancel = canceledOf(booking);
    const first = await publisher.publish('booking.canceled', cancel);
    const second = await publisher.publish('booking.canceled', cancel);
    await consumed(first.id);
    await consumed(second.id);

    const res = await api('GET', `/api/v1/lessons/${lesson.id}`, { token: tokenOf(booking.teacherId, 'teacher') });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('canceled');
    const canceled = await eventually(() => eventsFor('lesson.canceled', booking.bookingId)[0]);
    expect(canceled.payload.lessonId).toBe(lesson.id);
    const outbox = await service.db('outbox').where({ type: 'lesson.canceled' }).whereRaw(`envelope->'payload'->>'bookingId' = ?`, [booking.bookingId]);
    expect(outbox).toHaveLength(1);
  });

  test('when booking.canceled arrives BEFORE booking.confirmed, then no lesson is scheduled for the booking and nothing is announced', async () => {
    const booking = aBooking();
    const cancel = await publisher.publish('booking.canceled', canceledOf(booking));
    await consumed(cancel.id);
    const confirm = await publisher.publish('booking.confirmed', booking);
    await consumed(confirm.id);

    expect(await lessonRows(booking.bookingId)).toHaveLength(0);
    const res = await api('GET', `/api/v1/lessons/by-booking/${booking.bookingId}`, { token: tokenOf(booking.studentId, 'student') });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    const outbox = await service.db('outbox').whereRaw(`envelope->'payload'->>'bookingId' = ?`, [booking.bookingId]);
    expect(outbox).toHaveLength(0);
  });

  test('when confirmed and canceled of many bookings race each other, then no canceled booking is left with a scheduled lesson', async () => {
    const bookings = Array.from({ length: 25 }, () => aBooking());
    const sent = await Promise.all(
      bookings.flatMap((b, i) =>
        i % 2 === 0
          ? [publisher.publish('booking.canceled', canceledOf(b)), publisher.publish('booking.confirmed', b)]
          : [publisher.publish('booking.confirmed', b), publisher.publish('booking.canceled', canceledOf(b))],
      ),
    );
    await Promise.all(sent.map((m) => consumed(m.id)));
    const rows = await service.db('lessons').whereIn(
      'booking_id',
      bookings.map((b) => b.bookingId),
    );
    expect(rows.filter((r) => r.status === 'scheduled')).toEqual([]);
    expect(rows.length).toBeLessThanOrEqual(bookings.length);
  });

  test('when a confirmation made without the lock (the fast path) is still in flight as its cancel runs, the cancel waits for it and cancels the lesson it made; the other way round, the confirmation makes nothing', async () => {
    const deps = { db: service.db, clock, logger: createLogger('lessons-test', { level: 'silent' }) };
    const inboxOf = () => ({ messageId: randomUUID(), consumer: 'lessons', type: 'booking.confirmed' });
    const cancelOf = (b: ReturnType<typeof aBooking>) => ({ ...canceledOf(b), canceledBy: 'student' as const });

    // the confirmation's statement has run and not committed yet (a transaction stands for its statement)
    const booking = aBooking();
    const one = await whileFirstIsOpen(
      () => service.db.transaction(),
      (confirming) => scheduleLessonAtOnce({ ...deps, db: confirming }, booking, inboxOf()),
      () => service.db.transaction((tx) => cancelLessonForBooking(tx, cancelOf(booking), deps)),
    );
    expect(one.first).toBe(true);
    expect(one.secondWaited).toBe(true); // on the booking's fate row
    expect(one.second?.status).toBe('canceled');
    expect((await lessonRows(booking.bookingId)).map((r) => r.status)).toEqual(['canceled']);

    // the cancel has run and not committed: the confirmation waits, then finds the booking canceled
    const other = aBooking();
    const two = await whileFirstIsOpen(
      () => service.db.transaction(),
      (canceling) => cancelLessonForBooking(canceling, cancelOf(other), deps),
      () => scheduleLessonAtOnce(deps, other, inboxOf()),
    );
    expect(two.first).toBeUndefined();
    expect(two.secondWaited).toBe(true);
    expect(two.second).toBe(false);
    expect(await lessonRows(other.bookingId)).toEqual([]);
  });

  test('while a rollout runs the previous release too: its tombstone stops a late confirmation here, and a cancel here writes the tombstone it reads', async () => {
    const early = aBooking();
    await service.db('canceled_bookings').insert({ booking_id: early.bookingId, canceled_by: 'student', received_at: clock() }); // as the previous release records a cancel
    const late = await publisher.publish('booking.confirmed', early);
    await consumed(late.id);
    expect(await lessonRows(early.bookingId)).toEqual([]);

    const { booking } = await confirmedLesson();
    const cancel = await publisher.publish('booking.canceled', canceledOf(booking));
    await consumed(cancel.id);
    expect(await service.db('canceled_bookings').where({ booking_id: booking.bookingId })).toHaveLength(1);
    expect(await service.db('booking_fates').where({ booking_id: booking.bookingId }).first()).toMatchObject({ fate: 'canceled', canceled_by: 'student' });
  });

  test('when its teacher completes a lesson before it starts, then 409 invalid_transition; after the start (clock moved), then completed, lesson.completed once, and completing again answers 200 unchanged', async () => {
    const { booking, lesson } = await confirmedLesson();
    const teacher = tokenOf(booking.teacherId, 'teacher');

    const early = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: teacher });
    expect(early.status).toBe(409);
    expect(early.headers.get('content-type')).toContain('application/problem+json');
    expect(early.body.code).toBe('invalid_transition');

    clock.set(new Date(Date.parse(booking.startAt) + 5 * 60_000));
    const done = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: teacher });
    expect(done.status).toBe(200);
    expect(done.body.status).toBe('completed');
    expect(done.body.updatedAt).toBe(clock().toISOString());

    const again = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: teacher });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(done.body);

    const completed = await eventually(() => eventsFor('lesson.completed', booking.bookingId)[0]);
    expect(completed.payload.lessonId).toBe(lesson.id);
    const outbox = await service.db('outbox').where({ type: 'lesson.completed' }).whereRaw(`envelope->'payload'->>'bookingId' = ?`, [booking.bookingId]);
    expect(outbox).toHaveLength(1);

    // a completed lesson stays completed when its booking is canceled afterwards
    const cancel = await publisher.publish('booking.canceled', canceledOf(booking));
    await consumed(cancel.id);
    expect((await lessonRows(booking.bookingId))[0].status).toBe('completed');
  });

  test('when the lesson was canceled, then completing it is 409 invalid_transition even after its start', async () => {
    const { booking, lesson } = await confirmedLesson();
    const cancel = await publisher.publish('booking.canceled', canceledOf(booking, { canceledBy: 'teacher' }));
    await consumed(cancel.id);
    clock.set(new Date(Date.parse(booking.startAt) + 60_000));
    const res = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: tokenOf(booking.teacherId, 'teacher') });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('invalid_transition');
  });

  test('when someone other than its student, its teacher or an admin asks for a lesson, then 404; a student cannot complete (403), another teacher cannot (404), no token is 401', async () => {
    const { booking, lesson } = await confirmedLesson();
    clock.set(new Date(Date.parse(booking.startAt) + 60_000));
    const otherStudent = tokenOf(randomUUID(), 'student');
    const otherTeacher = tokenOf(randomUUID(), 'teacher');

    for (const token of [otherStudent, otherTeacher]) {
      expect((await api('GET', `/api/v1/lessons/${lesson.id}`, { token })).status).toBe(404);
      expect((await api('GET', `/api/v1/lessons/by-booking/${booking.bookingId}`, { token })).status).toBe(404);
    }
    expect((await api('GET', `/api/v1/lessons/${lesson.id}`, { token: tokenOf(booking.teacherId, 'teacher') })).status).toBe(200);
    expect((await api('GET', `/api/v1/lessons/${lesson.id}`, { token: tokenOf(randomUUID(), 'admin') })).status).toBe(200);
    expect((await api('GET', `/api/v1/lessons/${lesson.id}`)).status).toBe(401);

    const byStudent = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: tokenOf(booking.studentId, 'student') });
    expect(byStudent.status).toBe(403);
    expect(byStudent.body.code).toBe('forbidden');
    const byOtherTeacher = await api('POST', `/api/v1/lessons/${lesson.id}/complete`, { token: otherTeacher });
    expect(byOtherTeacher.status).toBe(404);
    expect((await lessonRows(booking.bookingId))[0].status).toBe('scheduled');
  });

  test('when a student or a teacher lists their lessons, then they see only their own, filtered by status and paginated newest first', async () => {
    const studentId = randomUUID();
    const teacherId = randomUUID();
    const mine = [];
    for (let i = 0; i < 3; i += 1) {
      clock.advance(1_000);
      mine.push((await confirmedLesson({ studentId, teacherId })).lesson);
    }
    await confirmedLesson(); // someone else's
    const cancel = await publisher.publish('booking.canceled', canceledOf({ ...aBooking(), bookingId: mine[0].bookingId, studentId, teacherId } as any));
    await consumed(cancel.id);

    const student = tokenOf(studentId, 'student');
    const firstPage = await api('GET', '/api/v1/lessons/my?limit=2', { token: student });
    expect(firstPage.status).toBe(200);
    expect(firstPage.body.items.map((l: any) => l.id)).toEqual([mine[2].id, mine[1].id]);
    expect(firstPage.body.nextCursor).toEqual(expect.any(String));
    const secondPage = await api('GET', `/api/v1/lessons/my?limit=2&cursor=${firstPage.body.nextCursor}`, { token: student });
    expect(secondPage.body.items.map((l: any) => l.id)).toEqual([mine[0].id]);
    expect(secondPage.body.nextCursor).toBeNull();

    const scheduled = await api('GET', '/api/v1/lessons/my?status=scheduled', { token: tokenOf(teacherId, 'teacher') });
    expect(scheduled.body.items.map((l: any) => l.id)).toEqual([mine[2].id, mine[1].id]);
    const canceled = await api('GET', '/api/v1/lessons/my?status=canceled', { token: student });
    expect(canceled.body.items.map((l: any) => l.id)).toEqual([mine[0].id]);

    expect((await api('GET', '/api/v1/lessons/my', { token: tokenOf(randomUUID(), 'admin') })).status).toBe(403);
  });

  test('when the input is bad, then 400 problem+json with field errors and never a 500', async () => {
    const token = tokenOf(randomUUID(), 'student');
    const cases = [
      ['GET', '/api/v1/lessons/not-a-uuid', 'params.id'],
      ['GET', '/api/v1/lessons/by-booking/123', 'params.bookingId'],
      ['GET', '/api/v1/lessons/my?limit=0', 'query.limit'],
      ['GET', '/api/v1/lessons/my?limit=201', 'query.limit'],
      ['GET', '/api/v1/lessons/my?status=lost', 'query.status'],
      ['GET', '/api/v1/lessons/my?cursor=garbage', 'query.cursor'],
    ] as const;
    for (const [method, path, field] of cases) {
      const res = await api(method, path, { token });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors.map((e: any) => e.path)).toContain(field);
    }
    const bad = await api('POST', `/api/v1/lessons/${randomUUID()}/complete`, { token: tokenOf(randomUUID(), 'teacher'), body: '{"oops":' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('malformed_json');
  });

  test('when a poison booking.confirmed arrives, then it is parked and the next message is still processed', async () => {
    const poison = await publisher.publish('booking.confirmed', { bookingId: 'nope' });
    const booking = aBooking();
    const good = await publisher.publish('booking.confirmed', booking);
    await consumed(good.id);
    expect(await service.db('inbox').where({ message_id: poison.id })).toHaveLength(0);
    expect(await lessonRows(booking.bookingId)).toHaveLength(1);
    await eventually(async () => (await queueDepth(`${bus.EVENTS_QUEUE_PREFIX}lessons.events.dlq`)) === 1);
  });

  test('when an admin asks for the internal ops figures, then the outbox backlog is returned; others get 403', async () => {
    const res = await api('GET', '/internal/ops', { token: tokenOf(randomUUID(), 'admin') });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ outbox: { pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) } });
    expect((await api('GET', '/internal/ops', { token: tokenOf(randomUUID(), 'teacher') })).status).toBe(403);
    expect((await api('GET', '/internal/ops')).status).toBe(401);
  });

  test('when the OpenAPI document is asked for, then it lists every public route with its full path', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/lessons/my', '/api/v1/lessons/by-booking/{bookingId}', '/api/v1/lessons/{id}', '/api/v1/lessons/{id}/complete']),
    );
  });
});
