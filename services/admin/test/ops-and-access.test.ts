import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { deleteBus, eventually, isolatedBus, startTestIssuer, testEnv, testInfra, type TestIssuer } from '@guitaronline/testing';
import { start, type AdminService } from '../src/main';
import { call, json, startStub, type StubServer } from './helpers';

const bus = isolatedBus();
const prefix = bus.EVENTS_QUEUE_PREFIX;
const OPS_TIMEOUT_MS = 1_000;
let issuer: TestIssuer;
let admin: AdminService;
let stubs: Record<'booking' | 'billing' | 'lessons' | 'notifications', StubServer>;
let amqpConnection: ChannelModel;
const adminId = randomUUID();
let adminToken: string;

const answers = {
  booking: { outbox: { pending: 3, oldestPendingSeconds: 12.5 }, staleHolds: 4, stuckConfirming: 1 },
  billing: { outbox: { pending: 0, oldestPendingSeconds: 0 }, overdueActivePackages: 2 },
  lessons: { outbox: { pending: 1, oldestPendingSeconds: 2 } },
  notifications: { outbox: { pending: 7, oldestPendingSeconds: 40 }, failedNotifications: 5 },
};

function env(extra: Record<string, string> = {}) {
  return testEnv({
    ...bus,
    IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
    BOOKING_URL: stubs.booking.url,
    BILLING_URL: stubs.billing.url,
    LESSONS_URL: stubs.lessons.url,
    NOTIFICATIONS_URL: stubs.notifications.url,
    OPS_TIMEOUT_MS: String(OPS_TIMEOUT_MS),
    ...extra,
  });
}

beforeAll(async () => {
  issuer = await startTestIssuer();
  stubs = {
    booking: await startStub(json(answers.booking)),
    billing: await startStub(json(answers.billing)),
    lessons: await startStub(json(answers.lessons)),
    notifications: await startStub(json(answers.notifications)),
  };
  // identity has no ops endpoint here: the issuer's server answers 404 on /internal/ops
  admin = await start(env());
  adminToken = issuer.token({ sub: adminId, role: 'admin' });
  // booking's queues, as the booking service would declare them, holding a few messages
  amqpConnection = await amqp.connect(testInfra().amqpUrl);
  const channel = await amqpConnection.createConfirmChannel();
  for (const name of [`${prefix}booking.events`, `${prefix}booking.events.dlq`]) {
    await channel.assertQueue(name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  }
  for (let i = 0; i < 3; i++) channel.sendToQueue(`${prefix}booking.events`, Buffer.from('{}'), { persistent: true });
  for (let i = 0; i < 2; i++) channel.sendToQueue(`${prefix}booking.events.dlq`, Buffer.from('{}'), { persistent: true, headers: { 'x-error': 'test' } });
  await channel.waitForConfirms();
  await channel.close();
});

afterAll(async () => {
  await admin?.stop();
  await Promise.all(Object.values(stubs ?? {}).map((s) => s.close()));
  await issuer?.close();
  await amqpConnection?.close().catch(() => undefined);
  await deleteBus(bus, ['admin', 'booking']);
});

const routes: { method: string; path: string; body?: unknown }[] = [
  { method: 'GET', path: '/api/v1/admin/kpi/overview' },
  { method: 'GET', path: '/api/v1/admin/ops/overview' },
  { method: 'GET', path: '/api/v1/admin/actions' },
  { method: 'GET', path: '/api/v1/admin/traces/some-request-id' },
  { method: 'GET', path: '/api/v1/admin/dead-letters?queue=admin' },
  { method: 'POST', path: '/api/v1/admin/dead-letters/admin/redrive', body: {} },
];

describe('operations overview', () => {
  test('when every service answers, then the overview lists each outbox backlog, the saga counters and every queue depth', async () => {
    const res = await eventually(async () => {
      const r = await call(admin.url, '/api/v1/admin/ops/overview', { token: adminToken });
      expect(r.status).toBe(200);
      expect(r.body.queues[`${prefix}booking.events.dlq`].ready).toBe(2);
      return r;
    });
    const o = res.body;
    expect(o.outbox.booking).toEqual(answers.booking.outbox);
    expect(o.outbox.billing).toEqual(answers.billing.outbox);
    expect(o.outbox.lessons).toEqual(answers.lessons.outbox);
    expect(o.outbox.notifications).toEqual(answers.notifications.outbox);
    expect(o.outbox.admin).toEqual({ pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) });
    expect(o.booking).toEqual({ staleHolds: 4, stuckConfirming: 1 });
    expect(o.billing).toEqual({ overdueActivePackages: 2 });
    expect(o.notifications).toEqual({ failed: 5 });
    expect(o.degraded).toEqual([]);
    expect(o.opsUnsupported).toEqual(['identity']);

    expect(o.queues[`${prefix}booking.events`]).toEqual({ ready: 3, unacked: null, consumers: 0 });
    expect(o.queues[`${prefix}admin.events`]).toEqual({ ready: expect.any(Number), unacked: null, consumers: 1 });
    for (const n of [1, 2, 3]) expect(o.queues[`${prefix}admin.events.retry.${n}`]).toBeDefined();
    expect(o.queues[`${prefix}admin.events.dlq`]).toBeDefined();
    expect(o.deadLetters.byQueue[`${prefix}booking.events.dlq`]).toBe(2);
    expect(o.deadLetters.total).toBe(2 + (o.deadLetters.byQueue[`${prefix}admin.events.dlq`] ?? 0));
    expect(o.retrying.total).toBe(0);
    expect(o.missingQueues).toEqual(expect.arrayContaining([`${prefix}billing.events`, `${prefix}lessons.events.dlq`, `${prefix}notifications.events.retry.1`]));

    // each service was asked with the caller's admin token
    for (const stub of Object.values(stubs)) {
      expect(stub.requests.at(-1)).toEqual({ path: '/internal/ops', authorization: `Bearer ${adminToken}` });
    }
    const recorded = await admin.db('admin_actions').where({ admin_id: adminId, action: 'admin.ops.view' });
    expect(recorded.length).toBeGreaterThanOrEqual(1);
  });

  test('when one service hangs past the timeout and another is down, then the overview still answers in time naming both degraded', async () => {
    stubs.lessons.handle(() => undefined); // never answers
    const billingUrl = stubs.billing.url;
    await stubs.billing.close();
    const abortedBefore = stubs.lessons.aborted;
    try {
      const started = Date.now();
      const res = await call(admin.url, '/api/v1/admin/ops/overview', { token: adminToken });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(elapsed).toBeLessThan(2_000);
      expect(elapsed).toBeGreaterThanOrEqual(OPS_TIMEOUT_MS - 50);
      expect(res.body.degraded.sort()).toEqual(['billing', 'lessons']);
      expect(res.body.outbox.lessons).toBeUndefined();
      expect(res.body.outbox.billing).toBeUndefined();
      expect(res.body.billing).toEqual({ overdueActivePackages: null });
      expect(res.body.outbox.booking).toEqual(answers.booking.outbox);
      // the hanging request was really aborted, not left open
      await eventually(() => stubs.lessons.aborted > abortedBefore);
    } finally {
      stubs.lessons.handle(json(answers.lessons));
      stubs.billing = await startStubAt(billingUrl);
    }
  });

  test('when a service keeps failing, then its breaker opens and the overview stops calling it', async () => {
    stubs.lessons.handle(json({ error: 'boom' }, 500));
    for (let i = 0; i < 4; i++) {
      const res = await call(admin.url, '/api/v1/admin/ops/overview', { token: adminToken });
      expect(res.body.degraded).toContain('lessons');
    }
    const asked = stubs.lessons.requests.length;
    const res = await call(admin.url, '/api/v1/admin/ops/overview', { token: adminToken });
    expect(res.status).toBe(200);
    expect(res.body.degraded).toEqual(['lessons']);
    expect(stubs.lessons.requests.length).toBe(asked); // open breaker: not even asked
    const metrics = await (await fetch(`${admin.url}/metrics`)).text();
    expect(metrics).toMatch(/admin_ops_breaker_open\{service="lessons"[^}]*\} 1/);
    expect(metrics).toMatch(/admin_ops_breaker_open\{service="booking"[^}]*\} 0/);
    stubs.lessons.handle(json(answers.lessons));
  });

  test('when the RabbitMQ management API is configured, then queue depths come from it with basic auth, unacknowledged counts included', async () => {
    const seen: { path: string; authorization: string | undefined }[] = [];
    const management = await startStub((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
      json([
        { name: `${prefix}admin.events`, messages_ready: 4, messages_unacknowledged: 2, consumers: 1 },
        { name: `${prefix}admin.events.dlq`, messages_ready: 6, messages_unacknowledged: 1, consumers: 0 },
        { name: `${prefix}admin.events.retry.1`, messages_ready: 3, messages_unacknowledged: 0, consumers: 0 },
        { name: 'someone-else.events', messages_ready: 99, messages_unacknowledged: 0, consumers: 1 },
      ])(req, res);
    });
    const second = await start(env({ RABBITMQ_MANAGEMENT_URL: management.url.replace('http://', 'http://watcher:s3cret@') }));
    try {
      const res = await call(second.url, '/api/v1/admin/ops/overview', { token: adminToken });
      expect(res.status).toBe(200);
      expect(seen[0].path).toMatch(/^\/api\/queues\/%2F\?columns=/);
      expect(seen[0].authorization).toBe(`Basic ${Buffer.from('watcher:s3cret').toString('base64')}`);
      expect(res.body.queues[`${prefix}admin.events`]).toEqual({ ready: 4, unacked: 2, consumers: 1 });
      expect(res.body.queues['someone-else.events']).toBeUndefined();
      expect(res.body.deadLetters.byQueue).toEqual({ [`${prefix}admin.events.dlq`]: 7 });
      expect(res.body.retrying).toEqual({ total: 3, byQueue: { [`${prefix}admin.events.retry.1`]: 3 } });
      expect(res.body.missingQueues).toContain(`${prefix}booking.events`);
    } finally {
      await second.stop();
      await management.close();
    }
  });

  test('when the RabbitMQ management API fails, then queue depths come from AMQP instead and the broker is not degraded', async () => {
    const management = await startStub(json({ error: 'down' }, 503));
    const second = await start(env({ RABBITMQ_MANAGEMENT_URL: management.url }));
    try {
      const res = await call(second.url, '/api/v1/admin/ops/overview', { token: adminToken });
      expect(res.status).toBe(200);
      expect(management.requests).toHaveLength(1);
      expect(res.body.queues[`${prefix}booking.events`]).toEqual({ ready: 3, unacked: null, consumers: 0 });
      expect(res.body.degraded).not.toContain('rabbitmq');
    } finally {
      await second.stop();
      await management.close();
    }
  });
});

describe('access', () => {
  test('when a caller without a token, with a bad token, or without the admin role calls an admin route, then it is refused and nothing is recorded', async () => {
    const student = issuer.token({ role: 'student' });
    const teacherId = randomUUID();
    const teacher = issuer.token({ sub: teacherId, role: 'teacher' });
    for (const route of routes) {
      const anonymous = await call(admin.url, route.path, { method: route.method, body: route.body });
      expect([route.path, anonymous.status, anonymous.body.code]).toEqual([route.path, 401, 'unauthorized']);
      const forged = await call(admin.url, route.path, { method: route.method, body: route.body, token: `${adminToken.slice(0, -4)}AAAA` });
      expect([route.path, forged.status]).toEqual([route.path, 401]);
      for (const token of [student, teacher]) {
        const res = await call(admin.url, route.path, { method: route.method, body: route.body, token });
        expect([route.path, res.status, res.body.code]).toEqual([route.path, 403, 'forbidden']);
      }
    }
    expect(await admin.db('admin_actions').where({ admin_id: teacherId })).toEqual([]);
  });

  test('when an admin uses every admin route, then each use is recorded as an admin action, listed newest first page by page', async () => {
    const me = randomUUID();
    const token = issuer.token({ sub: me, role: 'admin' });
    const requestIds: Record<string, string> = {};
    for (const route of routes) {
      const requestId = `test-${randomUUID()}`;
      const res = await call(admin.url, route.path, { method: route.method, body: route.body, token, headers: { 'x-request-id': requestId } });
      expect([route.path, res.status]).toEqual([route.path, 200]);
      requestIds[route.path] = requestId;
    }
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(admin.url, `/api/v1/admin/actions?adminId=${me}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    // the paging calls record themselves too, but after their page was read: the first six are the routes above
    const firstSix = seen.filter((a) => Object.values(requestIds).includes(a.requestId));
    expect(firstSix.map((a) => a.action).sort()).toEqual(
      ['admin.kpi.view', 'admin.ops.view', 'admin.actions.view', 'admin.traces.view', 'admin.dead_letters.view', 'admin.dead_letters.redrive'].sort(),
    );
    expect(new Set(seen.map((a) => a.id)).size).toBe(seen.length);
    for (let i = 1; i < seen.length; i++) expect(Date.parse(seen[i - 1].at)).toBeGreaterThanOrEqual(Date.parse(seen[i].at));
    const trace = firstSix.find((a) => a.action === 'admin.traces.view');
    expect(trace).toMatchObject({ adminId: me, target: 'some-request-id', requestId: requestIds['/api/v1/admin/traces/some-request-id'] });
    const redrive = firstSix.find((a) => a.action === 'admin.dead_letters.redrive');
    expect(redrive).toMatchObject({ target: `${prefix}admin.events.dlq`, details: { redriven: 0 } });
  });

  test('when the actions list gets a cursor it never gave out or a limit out of range, then it answers 400', async () => {
    for (const q of ['cursor=bm9wZQ', 'limit=0', 'limit=201', 'action=admin.nope']) {
      const res = await call(admin.url, `/api/v1/admin/actions?${q}`, { token: adminToken });
      expect([q, res.status, res.body.code]).toEqual([q, 400, 'validation_failed']);
    }
  });

  test('when the OpenAPI document is asked for, then it describes every admin route with its full path', async () => {
    const res = await call(admin.url, '/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths).sort()).toEqual(
      [
        '/api/v1/admin/actions',
        '/api/v1/admin/dead-letters',
        '/api/v1/admin/dead-letters/{queue}/redrive',
        '/api/v1/admin/kpi/overview',
        '/api/v1/admin/ops/overview',
        '/api/v1/admin/traces/{correlationId}',
      ].sort(),
    );
  });
});

/** Restarts a stopped stub on its old port (the admin's config points there). */
async function startStubAt(url: string): Promise<StubServer> {
  const port = Number(new URL(url).port);
  const { createServer } = await import('node:http');
  const stub: StubServer = {
    url,
    requests: [],
    aborted: 0,
    handle: () => undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    stub.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    json(answers.billing)(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return stub;
}
