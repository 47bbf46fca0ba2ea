import { randomUUID } from 'node:crypto';
import { apiCall, captureMessages, deleteBus, eventPublisher, eventually, isolatedBus, manualClock, privateDatabase, queueDepth, startTestIssuer, testEnv, whileFirstIsOpen, type ApiCallOptions, type EventPublisher, type PrivateDatabase, type TestIssuer } from '@guitaronline/testing';
import { createLogger } from '@guitaronline/platform';
import { start, type BillingService } from '../src/main';
import { creditLessonForBooking, debitAtOnce } from '../src/domain/booking-ledger';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('billing service', () => {
  const bus = isolatedBus();
  const clock = manualClock();
  let issuer: TestIssuer;
  let database: PrivateDatabase;
  let service: BillingService;
  let publisher: EventPublisher;
  let capture: Awaited<ReturnType<typeof captureMessages>>;
  const adminId = randomUUID();

  beforeAll(async () => {
    issuer = await startTestIssuer();
    database = await privateDatabase(['billing']);
    service = await start(
      testEnv({ ...bus, DATABASE_URL: database.url, IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''), BILLING_EXPIRY_SWEEP_INTERVAL_MS: '0' }),
      { clock },
    );
    publisher = await eventPublisher(bus.EVENTS_EXCHANGE);
    capture = await captureMessages(bus.EVENTS_EXCHANGE, 'billing.#');
  });

  afterAll(async () => {
    await capture?.close();
    await publisher?.close();
    await service?.stop();
    await issuer?.close();
    await deleteBus(bus, ['billing']);
    await database?.drop();
  });

  beforeEach(() => clock.set(new Date()));

  const api = (method: string, path: string, options: ApiCallOptions = {}) => apiCall(service.url, method, path, options);
  const admin = () => issuer.token({ sub: adminId, role: 'admin' });
  const student = (id: string) => issuer.token({ sub: id, role: 'student' });

  async function createPackage(studentId: string, overrides: Record<string, unknown> = {}) {
    const res = await api('POST', '/api/v1/billing/packages', {
      token: admin(),
      body: { studentId, lessonsTotal: 5, expiresAt: new Date(clock().getTime() + 30 * DAY).toISOString(), priceCents: 10_000, currency: 'EUR', ...overrides },
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  const getPackage = async (id: string) => (await api('GET', `/api/v1/billing/packages/${id}`, { token: admin() })).body;

  const eventsFor = (type: string, key: string, field = 'bookingId') => capture.ofType(type).filter((e) => e.payload[field] === key);
  const consumed = (messageId: string) =>
    eventually(async () => (await service.db('inbox').where({ message_id: messageId }).first()) !== undefined);
  const outboxFor = (type: string, bookingId: string) =>
    service.db('outbox').where({ type }).whereRaw(`envelope->'payload'->>'bookingId' = ?`, [bookingId]);

  function confirmationRequest(studentId: string, overrides: Record<string, unknown> = {}) {
    const startAt = new Date(clock().getTime() + 3 * DAY);
    return {
      bookingId: randomUUID(),
      studentId,
      teacherId: randomUUID(),
      startAt: startAt.toISOString(),
      endAt: new Date(startAt.getTime() + HOUR).toISOString(),
      ...overrides,
    };
  }

  const canceled = (request: { bookingId: string; studentId: string }, overrides: Record<string, unknown> = {}) => ({
    bookingId: request.bookingId,
    wasConfirmed: true,
    refundable: true,
    canceledBy: 'student',
    studentId: request.studentId,
    ...overrides,
  });

  /** The outcome billing published for a booking: debited or debit_rejected. */
  const outcomeOf = (bookingId: string) =>
    eventually(() => eventsFor('billing.lesson.debited', bookingId)[0] ?? eventsFor('billing.lesson.debit_rejected', bookingId)[0], { timeoutMs: 20_000 });

  describe('packages', () => {
    test('when an admin creates a package, then it is active with every lesson left, audited and announced in the same transaction', async () => {
      const studentId = randomUUID();
      const requestId = randomUUID();
      const expiresAt = new Date(clock().getTime() + 30 * DAY).toISOString();
      const res = await api('POST', '/api/v1/billing/packages', {
        token: admin(),
        headers: { 'x-request-id': requestId },
        body: { studentId, lessonsTotal: 8, expiresAt, priceCents: 24_000, currency: 'EUR' },
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        studentId,
        lessonsTotal: 8,
        lessonsLeft: 8,
        status: 'active',
        expiresAt,
        priceCents: 24_000,
        currency: 'EUR',
        createdAt: clock().toISOString(),
      });
      const audit = await service.db('audit_log').where({ target: `package:${res.body.id}` });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor_id: adminId, actor_role: 'admin', action: 'package.created', request_id: requestId, before: null, after: res.body });
      const event = await eventually(() => eventsFor('billing.package.created', res.body.id, 'packageId')[0]);
      expect(event.correlationId).toBe(requestId);
      expect(event.payload).toEqual({ packageId: res.body.id, studentId, lessonsTotal: 8, lessonsLeft: 8, expiresAt, priceCents: 24_000, currency: 'EUR' });
    });

    test('when someone other than its student or an admin reads a package, then 404; a student cannot create one (403); no token is 401', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);
      expect((await api('GET', `/api/v1/billing/packages/${pkg.id}`, { token: student(studentId) })).body).toEqual(pkg);
      expect((await api('GET', `/api/v1/billing/packages/${pkg.id}`, { token: admin() })).status).toBe(200);
      const other = await api('GET', `/api/v1/billing/packages/${pkg.id}`, { token: student(randomUUID()) });
      expect(other.status).toBe(404);
      expect(other.body.code).toBe('not_found');
      expect((await api('GET', `/api/v1/billing/packages/${pkg.id}`, { token: issuer.token({ role: 'teacher' }) })).status).toBe(404);
      expect((await api('GET', `/api/v1/billing/packages/${pkg.id}`)).status).toBe(401);
      const byStudent = await api('POST', '/api/v1/billing/packages', {
        token: student(studentId),
        body: { studentId, lessonsTotal: 100, expiresAt: new Date(clock().getTime() + DAY).toISOString(), priceCents: 0, currency: 'EUR' },
      });
      expect(byStudent.status).toBe(403);
      expect(byStudent.body.code).toBe('forbidden');
      expect((await api('GET', `/api/v1/billing/packages?studentId=${studentId}`, { token: student(studentId) })).status).toBe(403);
      expect((await api('POST', '/api/v1/billing/packages/expire', { token: student(studentId) })).status).toBe(403);
    });

    test('when a student lists their packages and an admin lists a student\'s, then each sees exactly those, newest first and paginated', async () => {
      const studentId = randomUUID();
      const made = [];
      for (let i = 0; i < 3; i += 1) {
        clock.advance(1_000);
        made.push(await createPackage(studentId));
      }
      await createPackage(randomUUID());
      const first = await api('GET', '/api/v1/billing/packages/my?limit=2', { token: student(studentId) });
      expect(first.status).toBe(200);
      expect(first.body.items.map((p: any) => p.id)).toEqual([made[2].id, made[1].id]);
      const second = await api('GET', `/api/v1/billing/packages/my?limit=2&cursor=${first.body.nextCursor}`, { token: student(studentId) });
      expect(second.body).toEqual({ items: [made[0]], nextCursor: null });
      const byAdmin = await api('GET', `/api/v1/billing/packages?studentId=${studentId}`, { token: admin() });
      expect(byAdmin.body.items.map((p: any) => p.id)).toEqual([made[2].id, made[1].id, made[0].id]);
      expect((await api('GET', '/api/v1/billing/packages/my', { token: admin() })).status).toBe(403);
    });

    test('when a package is read after its expiry, then it is expired and persisted, with an audit record and billing.package.expired', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      clock.advance(2 * HOUR);
      const res = await api('GET', `/api/v1/billing/packages/${pkg.id}`, { token: student(studentId) });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('expired');
      expect((await service.db('packages').where({ id: pkg.id }).first()).status).toBe('expired');
      const audit = await service.db('audit_log').where({ target: `package:${pkg.id}`, action: 'package.expired' });
      expect(audit).toHaveLength(1);
      expect(audit[0].before.status).toBe('active');
      expect(audit[0].after.status).toBe('expired');
      await eventually(() => eventsFor('billing.package.expired', pkg.id, 'packageId').length === 1);
      // reading it again changes nothing more
      await api('GET', '/api/v1/billing/packages/my', { token: student(studentId) });
      expect(await service.db('audit_log').where({ target: `package:${pkg.id}`, action: 'package.expired' })).toHaveLength(1);
    });

    test('when the sweep or the admin endpoint runs after expiry, then overdue packages are expired and counted, and the ops figures follow', async () => {
      const soon = () => ({ expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      const swept = await createPackage(randomUUID(), soon());
      const a = await createPackage(randomUUID(), soon());
      const b = await createPackage(randomUUID(), soon());
      const later = await createPackage(randomUUID(), { expiresAt: new Date(clock().getTime() + 3 * HOUR).toISOString() });
      clock.advance(2 * HOUR);

      const ops = await api('GET', '/internal/ops', { token: admin() });
      expect(ops.status).toBe(200);
      expect(ops.body).toEqual({ outbox: { pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) }, overdueActivePackages: expect.any(Number) });
      expect(ops.body.overdueActivePackages).toBeGreaterThanOrEqual(3);

      await service.sweepOnce();
      expect((await service.db('packages').where({ id: swept.id }).first()).status).toBe('expired');
      expect((await service.db('audit_log').where({ target: `package:${swept.id}`, action: 'package.expired' }).first()).actor_id).toBe('system');

      // the sweep got them all; move on so that two more are due, then the admin endpoint expires them
      const c = await createPackage(randomUUID(), soon());
      clock.advance(2 * HOUR);
      const res = await api('POST', '/api/v1/billing/packages/expire', { token: admin() });
      expect(res.status).toBe(200);
      expect(res.body.expired).toBeGreaterThanOrEqual(2);
      for (const pkg of [a, b, c, later]) expect(await getPackage(pkg.id)).toMatchObject({ status: 'expired' });
      expect((await service.db('audit_log').where({ target: `package:${c.id}`, action: 'package.expired' }).first()).actor_id).toBe(adminId);
      expect((await api('GET', '/internal/ops', { token: admin() })).body.overdueActivePackages).toBe(0);
      expect((await api('POST', '/api/v1/billing/packages/expire', { token: admin() })).body).toEqual({ expired: 0 });
      expect((await api('GET', '/internal/ops', { token: student(randomUUID()) })).status).toBe(403);
    });

    test('when package input is bad, then 400/422 problem+json with field errors and nothing is written', async () => {
      const studentId = randomUUID();
      const valid = { studentId, lessonsTotal: 5, expiresAt: new Date(clock().getTime() + DAY).toISOString(), priceCents: 100, currency: 'EUR' };
      const cases: [unknown, number, string][] = [
        [{ ...valid, studentId: 'x' }, 400, 'body.studentId'],
        [{ ...valid, lessonsTotal: 0 }, 400, 'body.lessonsTotal'],
        [{ ...valid, lessonsTotal: 2.5 }, 400, 'body.lessonsTotal'],
        [{ ...valid, priceCents: -1 }, 400, 'body.priceCents'],
        [{ ...valid, currency: 'eur' }, 400, 'body.currency'],
        [{ ...valid, expiresAt: 'tomorrow' }, 400, 'body.expiresAt'],
        [{ ...valid, extra: true }, 400, 'body'],
        [{ lessonsTotal: 5 }, 400, 'body.studentId'],
        [{ ...valid, expiresAt: new Date(clock().getTime() - 1_000).toISOString() }, 422, 'body.expiresAt'],
      ];
      for (const [body, status, path] of cases) {
        const res = await api('POST', '/api/v1/billing/packages', { token: admin(), body });
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.body.code).toBe('validation_failed');
        expect(res.body.errors.map((e: any) => e.path)).toContain(path);
      }
      expect(await service.db('packages').where({ student_id: studentId })).toHaveLength(0);
      const malformed = await api('POST', '/api/v1/billing/packages', { token: admin(), body: '{"studentId":' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.code).toBe('malformed_json');
      for (const path of ['/api/v1/billing/packages/nope', '/api/v1/billing/packages?limit=500', '/api/v1/billing/packages?studentId=1', '/api/v1/billing/packages?cursor=x']) {
        const res = await api('GET', path, { token: admin() });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
    });
  });

  describe('ledger (booking saga)', () => {
    test('when booking.confirmation_requested arrives, then one lesson is debited and billing.lesson.debited carries the new balance', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 3 });
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);

      const debited = await outcomeOf(request.bookingId);
      expect(debited.type).toBe('billing.lesson.debited');
      expect(debited.payload).toEqual({ bookingId: request.bookingId, packageId: pkg.id, studentId, lessonsLeft: 2 });
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 2, status: 'active' });
      const ledger = await service.db('package_ledger').where({ booking_id: request.bookingId });
      expect(ledger).toEqual([expect.objectContaining({ kind: 'debit', package_id: pkg.id, lessons_left_after: 2 })]);
    });

    test('when the same request is delivered twice and then re-requested by the watchdog (attempt 2), then there is one debit and the same outcome is published again', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 4 });
      const request = confirmationRequest(studentId);
      const first = await publisher.publish('booking.confirmation_requested', request);
      await publisher.publish('booking.confirmation_requested', request, { id: first.id });
      await consumed(first.id);
      const retry = await publisher.publish('booking.confirmation_requested', { ...request, attempt: 2 });
      await consumed(retry.id);

      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 3 });
      expect(await service.db('package_ledger').where({ booking_id: request.bookingId })).toHaveLength(1);
      const published = await eventually(() => {
        const list = eventsFor('billing.lesson.debited', request.bookingId);
        return list.length === 2 ? list : undefined;
      });
      expect(published.map((e: any) => e.payload)).toEqual([
        { bookingId: request.bookingId, packageId: pkg.id, studentId, lessonsLeft: 3 },
        { bookingId: request.bookingId, packageId: pkg.id, studentId, lessonsLeft: 3 },
      ]);
      expect(await outboxFor('billing.lesson.debited', request.bookingId)).toHaveLength(2);
    });

    test('when N+10 bookings of a package of N lessons ask at the same moment, then exactly N are debited, 10 are rejected for insufficient lessons, and the package is depleted at 0', async () => {
      const N = 6;
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: N });
      const requests = Array.from({ length: N + 10 }, () => confirmationRequest(studentId));
      await Promise.all(requests.map((r) => publisher.publish('booking.confirmation_requested', r)));

      const outcomes = await eventually(
        () => {
          const found = requests.map((r) => eventsFor('billing.lesson.debited', r.bookingId)[0] ?? eventsFor('billing.lesson.debit_rejected', r.bookingId)[0]);
          return found.every(Boolean) ? found : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const debited = outcomes.filter((e: any) => e.type === 'billing.lesson.debited');
      const rejected = outcomes.filter((e: any) => e.type === 'billing.lesson.debit_rejected');
      expect(debited).toHaveLength(N);
      expect(rejected).toHaveLength(10);
      expect(new Set(rejected.map((e: any) => e.payload.reason))).toEqual(new Set(['insufficient_lessons']));
      expect(debited.map((e: any) => e.payload.lessonsLeft).sort()).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0, status: 'depleted' });
      expect(await service.db('package_ledger').where({ package_id: pkg.id, kind: 'debit' })).toHaveLength(N);
      await eventually(() => eventsFor('billing.package.depleted', pkg.id, 'packageId').length === 1);
    });

    test('when the student has several packages, then the one that expires first is debited unless a package id is given', async () => {
      const studentId = randomUUID();
      const late = await createPackage(studentId, { expiresAt: new Date(clock().getTime() + 60 * DAY).toISOString() });
      const early = await createPackage(studentId, { expiresAt: new Date(clock().getTime() + 10 * DAY).toISOString() });
      const implicit = confirmationRequest(studentId);
      const explicit = confirmationRequest(studentId, { packageId: late.id });
      await publisher.publish('booking.confirmation_requested', implicit);
      expect((await outcomeOf(implicit.bookingId)).payload.packageId).toBe(early.id);
      await publisher.publish('booking.confirmation_requested', explicit);
      expect((await outcomeOf(explicit.bookingId)).payload.packageId).toBe(late.id);
      expect(await getPackage(early.id)).toMatchObject({ lessonsLeft: 4 });
      expect(await getPackage(late.id)).toMatchObject({ lessonsLeft: 4 });
    });

    test("when the request names another student's package, then it is rejected (no_active_package) and that package is untouched", async () => {
      const owner = randomUUID();
      const theirs = await createPackage(owner);
      const studentId = randomUUID();
      await createPackage(studentId); // the requester's own package is not used as a silent fallback
      const request = confirmationRequest(studentId, { packageId: theirs.id });
      await publisher.publish('booking.confirmation_requested', request);
      const outcome = await outcomeOf(request.bookingId);
      expect(outcome.type).toBe('billing.lesson.debit_rejected');
      expect(outcome.payload).toEqual({ bookingId: request.bookingId, studentId, reason: 'no_active_package' });
      expect(await getPackage(theirs.id)).toMatchObject({ lessonsLeft: 5 });
    });

    test('when the only package is past its expiry, then the debit is rejected with package_expired and the package is expired', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      clock.advance(2 * HOUR);
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      const outcome = await outcomeOf(request.bookingId);
      expect(outcome.payload).toEqual({ bookingId: request.bookingId, studentId, reason: 'package_expired' });
      expect((await service.db('packages').where({ id: pkg.id }).first()).status).toBe('expired');
      expect((await service.db('packages').where({ id: pkg.id }).first()).lessons_left).toBe(5);
      await eventually(() => eventsFor('billing.package.expired', pkg.id, 'packageId').length === 1);
    });

    test('when a student has no package, then no_active_package; a re-request gets the same rejection even if a package appeared meanwhile', async () => {
      const studentId = randomUUID();
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      expect((await outcomeOf(request.bookingId)).payload.reason).toBe('no_active_package');
      const pkg = await createPackage(studentId);
      const again = await publisher.publish('booking.confirmation_requested', { ...request, attempt: 2 });
      await consumed(again.id);
      const rejections = await eventually(() => {
        const list = eventsFor('billing.lesson.debit_rejected', request.bookingId);
        return list.length === 2 ? list : undefined;
      });
      expect(rejections.map((e: any) => e.payload.reason)).toEqual(['no_active_package', 'no_active_package']);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 5 });
    });

    test('when a refundable cancel arrives (twice, and again under a new id), then the lesson is credited exactly once and a depleted package is active again', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 1 });
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      await outcomeOf(request.bookingId);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0, status: 'depleted' });

      const cancel = await publisher.publish('booking.canceled', canceled(request, { packageId: pkg.id }));
      await publisher.publish('booking.canceled', canceled(request, { packageId: pkg.id }), { id: cancel.id });
      const again = await publisher.publish('booking.canceled', canceled(request, { packageId: pkg.id }));
      await consumed(cancel.id);
      await consumed(again.id);

      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 1, status: 'active' });
      const credited = await eventually(() => eventsFor('billing.lesson.credited', request.bookingId)[0]);
      expect(credited.payload).toEqual({ bookingId: request.bookingId, packageId: pkg.id, studentId, lessonsLeft: 1 });
      expect(await outboxFor('billing.lesson.credited', request.bookingId)).toHaveLength(1);
      expect((await service.db('package_ledger').where({ booking_id: request.bookingId })).map((r) => r.kind).sort()).toEqual(['credit', 'debit']);
    });

    test("when a reschedule's successor asks for its lesson before the replaced booking's refundable cancel arrives, then that lesson pays for it (a package at 0 is enough) and the late cancel changes nothing", async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 1 });
      const old = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', old);
      await outcomeOf(old.bookingId);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0, status: 'depleted' });

      const successor = confirmationRequest(studentId, { rescheduledFrom: { bookingId: old.bookingId, refundable: true } });
      await publisher.publish('booking.confirmation_requested', successor);
      expect((await outcomeOf(successor.bookingId)).type).toBe('billing.lesson.debited');
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0, status: 'depleted' });
      const credited = await eventually(() => eventsFor('billing.lesson.credited', old.bookingId)[0]);
      expect(credited.payload).toEqual({ bookingId: old.bookingId, packageId: pkg.id, studentId, lessonsLeft: 1 });

      const late = await publisher.publish('booking.canceled', canceled(old, { packageId: pkg.id }));
      await consumed(late.id);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0 });
      expect(await outboxFor('billing.lesson.credited', old.bookingId)).toHaveLength(1);
      expect((await service.db('package_ledger').where({ booking_id: old.bookingId })).map((r) => r.kind).sort()).toEqual(['credit', 'debit']);
      expect((await service.db('package_ledger').where({ booking_id: successor.bookingId })).map((r) => r.kind)).toEqual(['debit']);
    });

    test("when the replaced booking's cancel is not refundable, then a reschedule's successor needs a lesson of its own", async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 1 });
      const old = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', old);
      await outcomeOf(old.bookingId);
      const successor = confirmationRequest(studentId, { rescheduledFrom: { bookingId: old.bookingId, refundable: false } });
      await publisher.publish('booking.confirmation_requested', successor);
      const outcome = await outcomeOf(successor.bookingId);
      expect(outcome.type).toBe('billing.lesson.debit_rejected');
      expect(outcome.payload.reason).toBe('insufficient_lessons');
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 0 });
      expect(eventsFor('billing.lesson.credited', old.bookingId)).toHaveLength(0);
    });

    test('when a lesson is given back to a depleted package whose expiry has passed meanwhile, then the balance is restored and the package is expired, not active', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 1, expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      await outcomeOf(request.bookingId);
      clock.advance(2 * HOUR);
      const cancel = await publisher.publish('booking.canceled', canceled(request, { canceledBy: 'teacher' }));
      await consumed(cancel.id);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 1, status: 'expired' });
      await eventually(() => eventsFor('billing.package.expired', pkg.id, 'packageId').length === 1);
      expect(await service.db('audit_log').where({ target: `package:${pkg.id}`, action: 'package.expired' })).toHaveLength(1);
    });

    test('when a non-refundable cancel of a confirmed booking arrives, then no lesson is given back', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      await outcomeOf(request.bookingId);
      const cancel = await publisher.publish('booking.canceled', canceled(request, { refundable: false }));
      await consumed(cancel.id);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 4 });
      expect(await outboxFor('billing.lesson.credited', request.bookingId)).toHaveLength(0);
    });

    test('when the cancel arrives BEFORE its confirmation request (out of order), then the booking ends up costing nothing', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId, { lessonsTotal: 2 });
      const request = confirmationRequest(studentId);
      const cancel = await publisher.publish('booking.canceled', canceled(request, { wasConfirmed: false, refundable: false }));
      await consumed(cancel.id);
      const late = await publisher.publish('booking.confirmation_requested', request);
      await consumed(late.id);

      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 2, status: 'active' });
      await eventually(() => eventsFor('billing.lesson.credited', request.bookingId).length === 1);
      // the ledger is complete (debit + credit), and a repeat of either changes nothing
      const repeat = await publisher.publish('booking.canceled', canceled(request));
      await consumed(repeat.id);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 2 });
      expect(await service.db('package_ledger').where({ booking_id: request.bookingId })).toHaveLength(2);
    });

    test('when a debit made without the lock (the fast path) is still in flight as the cancel runs, the cancel waits and gives the lesson back; the other way round, the debit takes nothing', async () => {
      const deps = { db: service.db, clock, logger: createLogger('billing-test', { level: 'silent' }) };
      const inboxOf = () => ({ messageId: randomUUID(), consumer: 'billing', type: 'booking.confirmation_requested' });
      const cancelOf = (request: { bookingId: string }) => ({ bookingId: request.bookingId, refundable: false, wasConfirmed: false, source: 'booking.canceled' as const });
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);

      // the debit's statement has run and not committed yet (a transaction stands for its statement)
      const request = confirmationRequest(studentId);
      const one = await whileFirstIsOpen(
        () => service.db.transaction(),
        (debiting) => debitAtOnce({ ...deps, db: debiting }, request, inboxOf()),
        () => service.db.transaction((tx) => creditLessonForBooking(tx, cancelOf(request), deps)),
      );
      expect(one.first).toBe(true);
      expect(one.secondWaited).toBe(true); // on the booking's seen row
      expect(one.second).toBe('credited');
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 5 });
      expect((await service.db('package_ledger').where({ booking_id: request.bookingId })).map((e) => e.kind).sort()).toEqual(['credit', 'debit']);

      // the cancel has run and not committed: the debit waits, then finds the booking known and takes nothing
      const other = confirmationRequest(studentId);
      const two = await whileFirstIsOpen(
        () => service.db.transaction(),
        (canceling) => creditLessonForBooking(canceling, cancelOf(other), deps),
        () => debitAtOnce(deps, other, inboxOf()),
      );
      expect(two.first).toBe('remembered');
      expect(two.secondWaited).toBe(true);
      expect(two.second).toBe(false);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 5 });
      expect(await service.db('package_ledger').where({ booking_id: other.bookingId })).toEqual([]);
    });

    test('when booking rejects a booking that billing had debited (e.g. its watchdog gave up), then the lesson is given back once', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      await outcomeOf(request.bookingId);
      const rejected = await publisher.publish('booking.rejected', { bookingId: request.bookingId, reason: 'confirmation_timeout' });
      await consumed(rejected.id);
      expect(await getPackage(pkg.id)).toMatchObject({ lessonsLeft: 5 });
      await eventually(() => eventsFor('billing.lesson.credited', request.bookingId).length === 1);
    });

    test('when a poison booking event arrives, then it is parked in the DLQ and the queue keeps flowing', async () => {
      const poison = await publisher.publish('booking.confirmation_requested', { bookingId: randomUUID(), studentId: 'not-a-uuid' });
      const studentId = randomUUID();
      await createPackage(studentId);
      const request = confirmationRequest(studentId);
      await publisher.publish('booking.confirmation_requested', request);
      expect((await outcomeOf(request.bookingId)).type).toBe('billing.lesson.debited');
      expect(await service.db('inbox').where({ message_id: poison.id })).toHaveLength(0);
      await eventually(async () => (await queueDepth(`${bus.EVENTS_QUEUE_PREFIX}billing.events.dlq`)) >= 1);
    });
  });

  describe('payments', () => {
    async function createPayment(pkg: { id: string; currency: string }, token = admin(), overrides: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
      return api('POST', '/api/v1/billing/payments', { token, headers, body: { packageId: pkg.id, amountCents: 10_000, currency: pkg.currency, ...overrides } });
    }
    const setStatus = (id: string, status: string, headers: Record<string, string> = {}) =>
      api('POST', `/api/v1/billing/payments/${id}/status`, { token: admin(), body: { status }, headers });

    test('when the package\'s student pays, then a pending payment is created, audited and announced with the request id as correlation id', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);
      const requestId = randomUUID();
      const res = await createPayment(pkg, student(studentId), {}, { 'x-request-id': requestId });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        packageId: pkg.id,
        studentId,
        amountCents: 10_000,
        currency: 'EUR',
        status: 'pending',
        paidAt: null,
        createdAt: clock().toISOString(),
        updatedAt: clock().toISOString(),
      });
      const audit = await service.db('audit_log').where({ target: `payment:${res.body.id}` });
      expect(audit).toEqual([expect.objectContaining({ actor_id: studentId, actor_role: 'student', action: 'payment.created', request_id: requestId, before: null, after: res.body })]);
      const event = await eventually(() => eventsFor('billing.payment.created', res.body.id, 'paymentId')[0]);
      expect(event.correlationId).toBe(requestId);
      expect(event.payload).toEqual({ paymentId: res.body.id, packageId: pkg.id, studentId, amountCents: 10_000, currency: 'EUR', from: null, to: 'pending' });
    });

    test('when payment statuses change, then every allowed transition succeeds and is audited and announced, and every other one is refused with 409 invalid_transition', async () => {
      const pkg = await createPackage(randomUUID());
      const allowed: Record<string, string[]> = {
        pending: ['succeeded', 'failed'],
        failed: ['pending', 'succeeded'],
        succeeded: ['refunded'],
        refunded: [],
      };
      const pathTo: Record<string, string[]> = { pending: [], failed: ['failed'], succeeded: ['succeeded'], refunded: ['succeeded', 'refunded'] };
      for (const from of Object.keys(allowed)) {
        for (const to of ['pending', 'succeeded', 'failed', 'refunded']) {
          if (to === from) continue;
          const payment = (await createPayment(pkg)).body;
          for (const step of pathTo[from]) expect((await setStatus(payment.id, step)).status).toBe(200);
          const auditBefore = await service.db('audit_log').where({ target: `payment:${payment.id}` });
          const res = await setStatus(payment.id, to);
          const auditAfter = await service.db('audit_log').where({ target: `payment:${payment.id}` }).orderBy('id');
          if (allowed[from].includes(to)) {
            expect(res.status).toBe(200);
            expect(res.body.status).toBe(to);
            expect(auditAfter).toHaveLength(auditBefore.length + 1);
            expect(auditAfter[auditAfter.length - 1]).toMatchObject({ action: 'payment.status_changed', actor_id: adminId, before: { status: from }, after: { status: to } });
            const changed = await eventually(() => eventsFor('billing.payment.status_changed', payment.id, 'paymentId').find((e: any) => e.payload.from === from && e.payload.to === to));
            expect(changed.payload).toMatchObject({ packageId: pkg.id, amountCents: 10_000, currency: 'EUR' });
          } else {
            expect(res.status).toBe(409);
            expect(res.body.code).toBe('invalid_transition');
            expect(auditAfter).toHaveLength(auditBefore.length);
            expect((await service.db('payments').where({ id: payment.id }).first()).status).toBe(from);
          }
        }
      }
    });

    test('when the same status is set again, then 200 unchanged with no audit record and no event', async () => {
      const pkg = await createPackage(randomUUID());
      const payment = (await createPayment(pkg)).body;
      const same = await setStatus(payment.id, 'pending');
      expect(same.status).toBe(200);
      expect(same.body).toEqual(payment);
      const done = (await setStatus(payment.id, 'succeeded')).body;
      clock.advance(60_000);
      expect((await setStatus(payment.id, 'succeeded')).body).toEqual(done);
      expect(await service.db('audit_log').where({ target: `payment:${payment.id}`, action: 'payment.status_changed' })).toHaveLength(1);
      expect(await service.db('outbox').where({ type: 'billing.payment.status_changed', aggregate_id: payment.id })).toHaveLength(1);
    });

    test('when a payment first succeeds, then paidAt is set; a refund keeps it; a failed payment retried to success gets it then', async () => {
      const pkg = await createPackage(randomUUID());
      const payment = (await createPayment(pkg)).body;
      clock.advance(60_000);
      const succeededAt = clock().toISOString();
      const succeeded = (await setStatus(payment.id, 'succeeded')).body;
      expect(succeeded.paidAt).toBe(succeededAt);
      clock.advance(60_000);
      const refunded = (await setStatus(payment.id, 'refunded')).body;
      expect(refunded).toMatchObject({ status: 'refunded', paidAt: succeededAt, updatedAt: clock().toISOString() });

      const other = (await createPayment(pkg)).body;
      expect((await setStatus(other.id, 'failed')).body.paidAt).toBeNull();
      expect((await setStatus(other.id, 'pending')).body.paidAt).toBeNull();
      expect((await setStatus(other.id, 'failed')).body.paidAt).toBeNull();
      clock.advance(60_000);
      expect((await setStatus(other.id, 'succeeded')).body.paidAt).toBe(clock().toISOString());
    });

    test('when the package is past its expiry, then 409 package_expired and the package is expired; a depleted one is 409 package_not_active; expiry wins over inactivity', async () => {
      const studentId = randomUUID();
      const expiring = await createPackage(studentId, { expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      const depleted = await createPackage(studentId, { lessonsTotal: 1 });
      const depletedExpiring = await createPackage(studentId, { lessonsTotal: 1, expiresAt: new Date(clock().getTime() + HOUR).toISOString() });
      for (const pkg of [depleted, depletedExpiring]) {
        const request = confirmationRequest(studentId, { packageId: pkg.id });
        await publisher.publish('booking.confirmation_requested', request);
        expect((await outcomeOf(request.bookingId)).type).toBe('billing.lesson.debited');
      }

      const inactive = await createPayment(depleted, student(studentId));
      expect(inactive.status).toBe(409);
      expect(inactive.body.code).toBe('package_not_active');

      clock.advance(2 * HOUR);
      const expired = await createPayment(expiring, student(studentId));
      expect(expired.status).toBe(409);
      expect(expired.headers.get('content-type')).toContain('application/problem+json');
      expect(expired.body.code).toBe('package_expired');
      expect((await service.db('packages').where({ id: expiring.id }).first()).status).toBe('expired');
      await eventually(() => eventsFor('billing.package.expired', expiring.id, 'packageId').length === 1);

      const both = await createPayment(depletedExpiring, admin());
      expect(both.status).toBe(409);
      expect(both.body.code).toBe('package_expired');
      expect(await service.db('payments').whereIn('package_id', [expiring.id, depleted.id, depletedExpiring.id])).toHaveLength(0);
    });

    test('when the same Idempotency-Key is replayed, then the first response comes back and one payment exists; with a different body, then 422 idempotency_key_reused', async () => {
      const studentId = randomUUID();
      const pkg = await createPackage(studentId);
      const key = `pay-${randomUUID()}`;
      const first = await createPayment(pkg, student(studentId), {}, { 'idempotency-key': key });
      expect(first.status).toBe(201);
      clock.advance(1_000);
      const replay = await createPayment(pkg, student(studentId), {}, { 'idempotency-key': key });
      expect(replay.status).toBe(201);
      expect(replay.body).toEqual(first.body);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const reused = await createPayment(pkg, student(studentId), { amountCents: 1 }, { 'idempotency-key': key });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
      expect(await service.db('payments').where({ package_id: pkg.id })).toHaveLength(1);
      expect(await service.db('audit_log').where({ action: 'payment.created' }).whereRaw(`after->>'packageId' = ?`, [pkg.id])).toHaveLength(1);
      // concurrent first uses of one key still make one payment
      const key2 = `pay-${randomUUID()}`;
      const racing = await Promise.all(Array.from({ length: 5 }, () => createPayment(pkg, student(studentId), { amountCents: 7 }, { 'idempotency-key': key2 })));
      expect(racing.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
      expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);
      // keys belong to their caller: an admin using the same key makes a payment of its own
      const byAdmin = await createPayment(pkg, admin(), {}, { 'idempotency-key': key });
      expect(byAdmin.status).toBe(201);
      expect(byAdmin.body.id).not.toBe(first.body.id);
    });

    test("when a student touches another student's package or payments, then 404; teachers and students cannot change statuses (403)", async () => {
      const owner = randomUUID();
      const pkg = await createPackage(owner);
      const payment = (await createPayment(pkg, student(owner))).body;
      const stranger = student(randomUUID());

      const pay = await createPayment(pkg, stranger);
      expect(pay.status).toBe(404);
      expect((await api('GET', `/api/v1/billing/payments?packageId=${pkg.id}`, { token: stranger })).status).toBe(404);
      expect((await api('GET', '/api/v1/billing/payments', { token: stranger })).body).toEqual({ items: [], nextCursor: null });
      expect((await createPayment(pkg, issuer.token({ role: 'teacher' }))).status).toBe(403);
      const byOwner = await api('POST', `/api/v1/billing/payments/${payment.id}/status`, { token: student(owner), body: { status: 'succeeded' } });
      expect(byOwner.status).toBe(403);
      expect((await api('GET', `/api/v1/billing/payments?packageId=${pkg.id}`, { token: issuer.token({ role: 'teacher' }) })).status).toBe(403);

      const own = await api('GET', `/api/v1/billing/payments?packageId=${pkg.id}`, { token: student(owner) });
      expect(own.body).toEqual({ items: [payment], nextCursor: null });
      expect((await api('GET', `/api/v1/billing/payments?packageId=${pkg.id}`, { token: admin() })).body.items).toEqual([payment]);
      expect((await setStatus(randomUUID(), 'succeeded')).status).toBe(404);
    });

    test('when payment input is bad, then 400 problem+json with field errors and never a 500', async () => {
      const pkg = await createPackage(randomUUID());
      const cases: [Record<string, unknown>, string][] = [
        [{ packageId: pkg.id, amountCents: -1, currency: 'EUR' }, 'body.amountCents'],
        [{ packageId: pkg.id, amountCents: 1.5, currency: 'EUR' }, 'body.amountCents'],
        [{ packageId: pkg.id, amountCents: 100, currency: 'euro' }, 'body.currency'],
        [{ packageId: 'p', amountCents: 100, currency: 'EUR' }, 'body.packageId'],
        [{ packageId: pkg.id, amountCents: 100, currency: 'EUR', status: 'succeeded' }, 'body'],
        [{ packageId: pkg.id, amountCents: '100', currency: 'EUR' }, 'body.amountCents'],
      ];
      for (const [body, path] of cases) {
        const res = await api('POST', '/api/v1/billing/payments', { token: admin(), body });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        expect(res.body.errors.map((e: any) => e.path)).toContain(path);
      }
      const longKey = await api('POST', '/api/v1/billing/payments', {
        token: admin(),
        headers: { 'idempotency-key': 'k'.repeat(300) },
        body: { packageId: pkg.id, amountCents: 100, currency: 'EUR' },
      });
      expect(longKey.status).toBe(400);
      expect(longKey.body.errors.map((e: any) => e.path)).toContain('headers.idempotency-key');
      const mismatch = await api('POST', '/api/v1/billing/payments', { token: admin(), body: { packageId: pkg.id, amountCents: 100, currency: 'USD' } });
      expect(mismatch.status).toBe(422);
      expect(mismatch.body.errors.map((e: any) => e.path)).toContain('body.currency');
      const payment = (await createPayment(pkg)).body;
      for (const body of [{ status: 'paid' }, {}, { status: 'succeeded', at: 'now' }]) {
        const res = await api('POST', `/api/v1/billing/payments/${payment.id}/status`, { token: admin(), body });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
      }
      expect((await api('POST', '/api/v1/billing/payments/xyz/status', { token: admin(), body: { status: 'failed' } })).status).toBe(400);
      expect((await api('GET', '/api/v1/billing/payments?packageId=1', { token: admin() })).status).toBe(400);
      expect(await service.db('payments').where({ package_id: pkg.id })).toHaveLength(1);
    });
  });

  test('when the OpenAPI document is asked for, then it lists every public route with its full path', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/billing/packages',
        '/api/v1/billing/packages/my',
        '/api/v1/billing/packages/{id}',
        '/api/v1/billing/packages/expire',
        '/api/v1/billing/payments',
        '/api/v1/billing/payments/{id}/status',
      ]),
    );
  });
});
