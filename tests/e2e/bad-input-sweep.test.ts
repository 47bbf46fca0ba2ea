import { eventually, startSmtp } from '@guitaronline/testing';
import { apiClient, startSagaStack, type SagaStack } from '../support/stack';

/**
 * "No 500 for anything a client can send", checked across the whole public API at once: every
 * operation of the gateway's merged OpenAPI document gets garbage — malformed and wrong-typed
 * bodies, bad and foreign path ids, odd queries, U+0000 — as no one, a student, a teacher and
 * an admin, and also with the ids of real slots, bookings, packages, payments, lessons and
 * webhooks. Every answer must be below 500, and every refusal problem+json with a code.
 */

const HOUR = 3_600_000;
const NIL = '00000000-0000-4000-8000-000000000000';

/** What goes in a path parameter besides real ids. */
const BAD_IDS = ['not-a-uuid', NIL, '%00', 'x'.repeat(300), '1%27%20or%20%271%27%3D%271'];
/** Raw bodies with their content type. */
const BODIES: [string, string][] = [
  ['{"a":', 'application/json'],
  ['[]', 'application/json'],
  ['null', 'application/json'],
  ['{}', 'application/json'],
  ['x=1', 'application/x-www-form-urlencoded'],
  [JSON.stringify({ slotId: 'x', startAt: 'yesterday', endAt: 12, packageId: null, lessonsTotal: -1, priceCents: 1e300, currency: 'EURO', status: 'weird', reason: 'r'.repeat(5000) }), 'application/json'],
  [JSON.stringify({ startAt: '+275760-09-13T00:00:00.000Z', endAt: '+275760-09-13T01:00:00.000Z' }), 'application/json'],
  ['{"lessonsTotal":2147483648,"priceCents":9007199254740993,"currency":"EUR","expiresAt":"9999-12-31T23:59:59Z","studentId":"' + NIL + '"}', 'application/json'],
  [JSON.stringify({ lessonsTotal: 3, priceCents: 100, currency: 'EUR', expiresAt: '9999-12-31T23:59:59Z', studentId: NIL }), 'application/json'],
  [JSON.stringify({ status: 'refunded', reason: 'a\u0000b', messageIds: ['\u0000', 1, null], packageId: NIL }), 'application/json'],
  [JSON.stringify({ url: 'http://127.0.0.1:9/hook', events: ['booking.held', 'nope'] }), 'application/json'],
  // what passes a schema and still holds U+0000
  [JSON.stringify({ url: 'https://example.com/hook', events: ['booking.held'], description: 'a\u0000' }), 'application/json'],
  [JSON.stringify({ reason: 'a\u0000b' }), 'application/json'],
];
const QUERIES = ['?limit=0', '?limit=abc', '?cursor=zzz', `?cursor=${'a'.repeat(2000)}`, '?status=nope&from=yesterday', '?limit=1&limit=2', '?teacherId=x&studentId=%00&packageId=1', '?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z', '?%ZZ=1'];

interface Operation {
  method: string;
  path: string;
}

describe('bad input at every operation of the public API, through the gateway', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let stack: SagaStack;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    smtp = await startSmtp();
    stack = await startSagaStack({ withNotifications: { SMTP_URL: smtp.url }, withAdmin: true });
    api = apiClient(stack.url);
  });
  afterAll(async () => {
    await stack?.stop();
    await smtp?.close();
  });

  test('when garbage is sent to every operation by anyone, then no answer is a 5xx and every refusal is problem+json with a code', async () => {
    // the gateway merges the services' documents once they answer
    const operations = await eventually(async () => {
      const doc = (await api.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
      const ops: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })));
      const services = ['identity', 'teachers', 'scheduling', 'booking', 'billing', 'lessons', 'notifications', 'admin'];
      return services.every((s) => ops.some((o) => o.path.startsWith(`/api/v1/${s}`))) ? ops : undefined;
    });

    // real things to point the path ids at
    const creds = await stack.createAdmin();
    const admin = await api.login(creds.email, creds.password);
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const startAt = new Date(Date.now() + 72 * HOUR);
    startAt.setUTCMinutes(0, 0, 0);
    const slotAt = (hours: number) => ({ startAt: new Date(startAt.getTime() + hours * HOUR).toISOString(), endAt: new Date(startAt.getTime() + (hours + 1) * HOUR).toISOString() });
    const slotA = (await api.call('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: slotAt(0) })).body;
    const slotB = (await api.call('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: slotAt(2) })).body;
    const pkg = (await api.call('POST', '/api/v1/billing/packages', { token: admin.token, body: { studentId: student.id, lessonsTotal: 3, expiresAt: new Date(Date.now() + 30 * 24 * HOUR).toISOString(), priceCents: 9000, currency: 'EUR' } })).body;
    const payment = (await api.call('POST', '/api/v1/billing/payments', { token: student.token, body: { packageId: pkg.id, amountCents: 9000, currency: 'EUR' } })).body;
    const held = (await api.call('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slotA.id } })).body;
    const confirmed = (await api.call('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slotB.id } })).body;
    await api.call('POST', `/api/v1/booking/${confirmed.id}/confirm`, { token: student.token, body: {}, headers: { prefer: 'wait=5' } });
    const lesson = await eventually(async () => {
      const res = await api.call('GET', `/api/v1/lessons/by-booking/${confirmed.id}`, { token: student.token });
      return res.status === 200 ? res.body : undefined;
    });
    const webhook = (await api.call('POST', '/api/v1/notifications/webhooks', { token: admin.token, body: { url: 'https://example.com/hook', events: ['booking.held'] } })).body;
    // the real ids a path's parameter can name, by the path's prefix
    const realIds: [string, string[]][] = [
      ['/api/v1/scheduling/slots/', [slotA.id, slotB.id]],
      ['/api/v1/booking/', [held.id, confirmed.id]],
      ['/api/v1/billing/packages/', [pkg.id]],
      ['/api/v1/billing/payments/', [payment.id]],
      ['/api/v1/lessons/by-booking/', [confirmed.id]],
      ['/api/v1/lessons/', [lesson.id]],
      ['/api/v1/notifications/webhooks/', [webhook.id]],
      ['/api/v1/admin/dead-letters/', ['booking.events.dlq']],
      ['/api/v1/teachers/', [teacher.id]],
    ];
    expect(realIds.flatMap(([, ids]) => ids).every((id) => typeof id === 'string')).toBe(true);
    const realIdsOf = (path: string) => realIds.find(([prefix]) => path.startsWith(prefix))?.[1] ?? [];

    const who: [string, string | undefined][] = [
      ['no one', undefined],
      ['student', student.token],
      ['teacher', teacher.token],
      ['admin', admin.token],
    ];
    const failures: string[] = [];
    let sent = 0;
    const attempt = async (role: string, token: string | undefined, method: string, path: string, body?: [string, string]) => {
      const res = await api.call(method, path, { token, body: body?.[0], headers: body ? { 'content-type': body[1] } : {} });
      sent++;
      const problem = res.status < 400 || (/^application\/problem\+json/.test(res.headers.get('content-type') ?? '') && typeof res.body?.code === 'string');
      if (res.status >= 500 || !problem) failures.push(`${role} ${method} ${path.slice(0, 120)} ${body?.[0].slice(0, 60) ?? ''} → ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
    };
    for (const { method, path } of operations) {
      const inputs = (method === 'GET' || method === 'DELETE' ? QUERIES.map((q) => ({ q })) : BODIES.map((b) => ({ b }))) as { q?: string; b?: [string, string] }[];
      const hasId = /\{[^}]+\}/.test(path);
      for (const [role, token] of who) {
        // bad ids (one without a token: refused before any of them is read) and the real ids of
        // the path's kind, where the role may reach them (a student's own, an admin's any), each with every input
        const ids = !hasId ? [undefined] : token === undefined ? BAD_IDS.slice(0, 1) : [...BAD_IDS, ...(role === 'student' || role === 'admin' ? realIdsOf(path) : [])];
        for (const id of ids) {
          const concrete = id === undefined ? path : path.replace(/\{[^}]+\}/g, id);
          await attempt(role, token, method, concrete);
          for (const input of inputs) await attempt(role, token, method, concrete + (input.q ?? ''), input.b);
        }
      }
    }
    expect(sent).toBeGreaterThan(3000);
    expect(failures).toEqual([]);
  });
});
