import { randomUUID } from 'node:crypto';
import { eventually, startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import { bookingConfirmed, freshDatabase, makeEvent, registered, setup, type Fixture, type TestDatabase } from './harness';

jest.setTimeout(60_000);

let issuer: TestIssuer;
let fx: Fixture;
let database: TestDatabase;
beforeAll(async () => {
  issuer = await startTestIssuer();
  database = await freshDatabase();
  fx = await setup(issuer, database);
});
afterAll(async () => {
  await fx?.cleanup();
  await database?.drop();
  await issuer.close();
});

async function call(method: string, path: string, options: { token?: string; body?: unknown; rawBody?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${fx.url}${path}`, { method, headers, body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : undefined };
}

// every row has three entries: jest hands a shorter row's missing argument over as `done`
const adminRoutes: [string, string, unknown][] = [
  ['POST', '/api/v1/notifications/webhooks', { url: 'https://example.test/hook', events: ['booking.confirmed'] }],
  ['GET', '/api/v1/notifications/webhooks', undefined],
  ['DELETE', `/api/v1/notifications/webhooks/${randomUUID()}`, undefined],
  ['GET', '/api/v1/notifications/delivery/metrics', undefined],
  ['GET', '/internal/ops', undefined],
];

describe('notifications HTTP API', () => {
  test.each(adminRoutes)('when a student or teacher calls %s %s, then it is refused with 403 (and 401 without a token)', async (method, path, body) => {
    for (const role of ['student', 'teacher'] as const) {
      const res = await call(method, path, { token: issuer.token({ role }), body });
      expect(res.status).toBe(403);
      expect(res.type).toContain('application/problem+json');
      expect(res.body.code).toBe('forbidden');
    }
    const anonymous = await call(method, path, { body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthorized');
    expect((await call(method, path, { token: 'not-a-jwt', body })).status).toBe(401);
  });

  test('when a webhook subscription body is bad, then the answer is 400 problem+json naming each field', async () => {
    const admin = issuer.token({ role: 'admin' });
    const cases: [unknown, string][] = [
      [{ url: 'ftp://example.test/x', events: ['booking.confirmed'] }, 'body.url'],
      [{ url: 'not a url', events: ['booking.confirmed'] }, 'body.url'],
      [{ url: 'https://example.test/x', events: ['booking.exploded'] }, 'body.events.0'],
      [{ url: 'https://example.test/x', events: [] }, 'body.events'],
      [{ url: 'https://example.test/x' }, 'body.events'],
      [{ url: 'https://example.test/x', events: ['booking.confirmed'], description: 'x'.repeat(501) }, 'body.description'],
      [{ url: 'https://example.test/x', events: ['booking.confirmed'], secret: 'mine' }, 'body'],
      [{ url: `https://example.test/${'x'.repeat(2100)}`, events: ['booking.confirmed'] }, 'body.url'],
    ];
    for (const [body, path] of cases) {
      const res = await call('POST', '/api/v1/notifications/webhooks', { token: admin, body });
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.body).toMatchObject({ code: 'validation_failed', status: 400, requestId: expect.any(String) });
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    const malformed = await call('POST', '/api/v1/notifications/webhooks', { token: admin, rawBody: '{"url":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');
    const badId = await call('DELETE', '/api/v1/notifications/webhooks/not-a-uuid', { token: admin });
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].path).toBe('params.id');
    expect((await call('DELETE', `/api/v1/notifications/webhooks/${randomUUID()}`, { token: admin })).status).toBe(404);
    expect(await fx.db('webhook_subscriptions')).toHaveLength(0); // nothing was written
  });

  test('when list parameters are out of range or the cursor is forged, then the answer is 400 with field errors', async () => {
    const token = issuer.token({ role: 'student' });
    for (const [query, path] of [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=abc', 'query.limit'],
      ['cursor=garbage', 'query.cursor'],
    ]) {
      const res = await call('GET', `/api/v1/notifications/my?${query}`, { token });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  test('when two users have notifications, then GET /my shows each only their own, newest first, page by page', async () => {
    const alice = registered('student');
    const bob = registered('student');
    const teacher = registered('teacher');
    await fx.publisher.publish(alice, bob, teacher);
    await eventually(async () => (await fx.db('recipients').whereIn('user_id', [alice.payload.userId, bob.payload.userId, teacher.payload.userId])).length === 3);
    const first = bookingConfirmed(alice.payload.userId, teacher.payload.userId);
    await fx.publisher.publish(first);
    await eventually(async () => (await fx.db('notifications').where({ event_id: first.id })).length === 2);
    const second = makeEvent('billing.payment.created', {
      paymentId: randomUUID(),
      packageId: randomUUID(),
      studentId: alice.payload.userId,
      amountCents: 4900,
      currency: 'EUR',
      from: null,
      to: 'pending',
    });
    const bobs = bookingConfirmed(bob.payload.userId, teacher.payload.userId);
    await fx.publisher.publish(second, bobs);
    await eventually(async () => (await fx.db('notifications').whereIn('event_id', [second.id, bobs.id])).length === 3);

    const aliceToken = issuer.token({ sub: alice.payload.userId, role: 'student' });
    const page1 = await call('GET', '/api/v1/notifications/my?limit=1', { token: aliceToken });
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(1);
    expect(page1.body.items[0].type).toBe('billing.payment.created');
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await call('GET', `/api/v1/notifications/my?limit=1&cursor=${page1.body.nextCursor}`, { token: aliceToken });
    expect(page2.body.items.map((n: { type: string }) => n.type)).toEqual(['booking.confirmed']);
    expect(page2.body.nextCursor).toBeNull();

    const aliceIds = new Set(
      (await fx.db('notifications').where({ user_id: alice.payload.userId }).select('id')).map((r: { id: string }) => r.id),
    );
    const bobView = await call('GET', '/api/v1/notifications/my', { token: issuer.token({ sub: bob.payload.userId, role: 'student' }) });
    expect(bobView.body.items).toHaveLength(1);
    expect(aliceIds.has(bobView.body.items[0].id)).toBe(false);
    const teacherView = await call('GET', '/api/v1/notifications/my', { token: issuer.token({ sub: teacher.payload.userId, role: 'teacher' }) });
    expect(teacherView.body.items).toHaveLength(2);
    expect(teacherView.body.items.every((n: { type: string }) => n.type === 'booking.confirmed')).toBe(true);
    const stranger = await call('GET', '/api/v1/notifications/my', { token: issuer.token({ role: 'student' }) });
    expect(stranger.body).toEqual({ items: [], nextCursor: null });
  });

  test('when the OpenAPI document is fetched, then it lists every public route with its full path', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths).sort()).toEqual(
      [
        '/api/v1/notifications/my',
        '/api/v1/notifications/webhooks',
        '/api/v1/notifications/webhooks/{id}',
        '/api/v1/notifications/delivery/metrics',
        '/internal/ops',
      ].sort(),
    );
    expect(res.body.paths['/api/v1/notifications/webhooks'].post.responses['201']).toBeDefined();
  });

  test('when health and readiness are asked, then both answer 200 with their dependencies up', async () => {
    expect((await call('GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await call('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ postgres: 'ok', rabbitmq: 'ok' });
  });
});
