import { randomUUID } from 'node:crypto';
import { eventually, sleep, startSmtp } from '@guitaronline/testing';
import { apiClient, startSagaStack, type SagaStack } from '../support/stack';

const HOUR = 3_600_000;

describe('notifications and admin follow the booking saga, through the gateway', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let stack: SagaStack;
  let api: ReturnType<typeof apiClient>;
  let admin: { token: string };

  beforeAll(async () => {
    smtp = await startSmtp();
    stack = await startSagaStack({
      withNotifications: { SMTP_URL: smtp.url, NOTIFY_WORKER_INTERVAL_MS: '100' },
      withAdmin: true,
    });
    api = apiClient(stack.url);
    const creds = await stack.createAdmin();
    admin = await api.login(creds.email, creds.password);
  });
  afterAll(async () => {
    await stack?.stop();
    await smtp?.close();
  });

  test('when a booking is confirmed, student and teacher get one e-mail each, the KPIs count it and the trace shows the saga', async () => {
    const teacher = await api.register('teacher');
    const student = await api.register('student');
    const pkg = await api.call('POST', '/api/v1/billing/packages', {
      token: admin.token,
      body: { studentId: student.id, lessonsTotal: 2, expiresAt: new Date(Date.now() + 30 * 24 * HOUR).toISOString(), priceCents: 9000, currency: 'EUR' },
    });
    expect(pkg.status).toBe(201);
    const startAt = new Date(Date.now() + 72 * HOUR);
    startAt.setUTCMinutes(0, 0, 0);
    const slot = await api.call('POST', '/api/v1/scheduling/slots', {
      token: teacher.token,
      body: { startAt: startAt.toISOString(), endAt: new Date(startAt.getTime() + HOUR).toISOString() },
    });
    const hold = await api.call('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.body.id } });
    expect(hold.status).toBe(201);
    const requestId = `e2e-${randomUUID()}`;
    const confirm = await api.call('POST', `/api/v1/booking/${hold.body.id}/confirm`, {
      token: student.token,
      body: {},
      headers: { prefer: 'wait=5', 'x-request-id': requestId },
    });
    expect(confirm.headers.get('x-request-id')).toBe(requestId);
    const bookingId = hold.body.id as string;

    // e-mail: one "lesson booked" mail to each party, received by a real SMTP server
    const bookedMails = (address: string) => smtp.to(address).filter((m) => m.raw.includes(bookingId) && /lesson booked/i.test(m.subject ?? ''));
    await eventually(() => bookedMails(student.email).length === 1 && bookedMails(teacher.email).length === 1, { timeoutMs: 20_000 });
    await sleep(500);
    expect(bookedMails(student.email)).toHaveLength(1);
    expect(bookedMails(teacher.email)).toHaveLength(1);
    const ids = smtp.state.received.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length); // nothing was sent twice

    const mine = await api.call('GET', '/api/v1/notifications/my', { token: student.token });
    expect(mine.status).toBe(200);
    expect(mine.body.items.some((n: { type: string; status: string }) => n.type === 'booking.confirmed' && n.status === 'sent')).toBe(true);

    // KPIs: this stack has a database of its own, so the counts are exact
    const kpi = await eventually(async () => {
      const res = await api.call('GET', '/api/v1/admin/kpi/overview', { token: admin.token });
      // the admin's own registration was written by the admin:create command, which has no relay:
      // identity's poll publishes it once it is older than the relay's orphan age (5 s)
      return res.body?.lessons?.scheduled === 1 && res.body?.users?.total === 3 ? res.body : undefined;
    }, { timeoutMs: 30_000 });
    expect(kpi.users).toMatchObject({ student: 1, teacher: 1, admin: 1, total: 3 });
    expect(kpi.bookings).toMatchObject({ confirmed: 1, total: 1 });
    expect(kpi.packages).toMatchObject({ active: 1, total: 1 });
    expect(kpi.payments.total).toBe(0);

    // the trace of the confirm request: the saga's events in causal order
    const trace = await eventually(async () => {
      const res = await api.call('GET', `/api/v1/admin/traces/${requestId}`, { token: admin.token });
      const types = (res.body?.events ?? []).map((e: { type: string }) => e.type);
      return types.includes('lesson.created') ? res.body : undefined;
    }, { timeoutMs: 20_000 });
    const types: string[] = trace.events.map((e: { type: string }) => e.type);
    const order = ['booking.confirmation_requested', 'billing.lesson.debited', 'booking.confirmed', 'lesson.created'];
    expect(order.map((t) => types.indexOf(t)).every((i, n, all) => i >= 0 && (n === 0 || i > all[n - 1]))).toBe(true);
    expect(trace.events.find((e: { type: string }) => e.type === 'billing.lesson.debited').producer).toBe('billing');

    // the reads above are audited as admin actions
    const actions = await api.call('GET', '/api/v1/admin/actions', { token: admin.token });
    const recorded = actions.body.items.map((a: { action: string }) => a.action);
    expect(recorded).toEqual(expect.arrayContaining(['admin.kpi.view', 'admin.traces.view']));

    // non-admins are refused
    expect((await api.call('GET', '/api/v1/admin/kpi/overview', { token: student.token })).status).toBe(403);
  });

  test('the operations overview answers with every service and names one that is down', async () => {
    const res = await api.call('GET', '/api/v1/admin/ops/overview', { token: admin.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.outbox)).toEqual(expect.arrayContaining(['identity', 'booking', 'billing', 'lessons', 'notifications']));
    expect(res.body.outbox.identity).toMatchObject({ pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) });
    expect(res.body.degraded).toEqual([]);
    expect(res.body.opsUnsupported ?? []).toEqual([]);
    await stack.stopService('lessons');
    const degraded = await api.call('GET', '/api/v1/admin/ops/overview', { token: admin.token });
    expect(degraded.status).toBe(200);
    expect(degraded.body.degraded).toContain('lessons');
  });
});
