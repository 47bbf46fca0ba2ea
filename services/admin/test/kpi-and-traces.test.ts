import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createServiceDb, type Knex } from '@guitaronline/platform';
import { deleteBus, eventually, isolatedBus, startTestIssuer, testEnv, testInfra, type TestIssuer } from '@guitaronline/testing';
import { start, type AdminService } from '../src/main';
import { rebuildKpi } from '../src/data/kpi-rebuild';
import { call, closedPortUrl, createPublisher, envelope, superuserDb, type Envelope } from './helpers';

const bus = isolatedBus();
let issuer: TestIssuer;
let admin: AdminService;
let publisher: Awaited<ReturnType<typeof createPublisher>>;
let su: Knex;
let adminToken: string;
const adminId = randomUUID();

beforeAll(async () => {
  issuer = await startTestIssuer();
  const nowhere = await closedPortUrl();
  admin = await start(
    testEnv({
      ...bus,
      IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
      BOOKING_URL: nowhere,
      BILLING_URL: nowhere,
      LESSONS_URL: nowhere,
      NOTIFICATIONS_URL: nowhere,
    }),
  );
  publisher = await createPublisher(bus.EVENTS_EXCHANGE);
  su = superuserDb();
  adminToken = issuer.token({ sub: adminId, role: 'admin' });
});

afterAll(async () => {
  await publisher?.close();
  await admin?.stop();
  await su?.destroy();
  await issuer?.close();
  await deleteBus(bus, ['admin']);
});

const base = Date.now() - 10 * 60_000;
const at = (second: number) => new Date(base + second * 1000);
const id = () => randomUUID();

async function kpi() {
  const res = await call(admin.url, '/api/v1/admin/kpi/overview', { token: adminToken });
  expect(res.status).toBe(200);
  return res.body;
}

function withoutAsOf(overview: any) {
  const { asOf: _asOf, ...rest } = overview;
  return rest;
}

type Counts = Record<string, Record<string, number>>;
function diff(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const group of ['users', 'bookings', 'lessons', 'payments', 'packages']) {
    out[group] = {};
    for (const [k, v] of Object.entries(after[group])) if (typeof v === 'number') out[group][k] = v - (before[group][k] as number);
  }
  return out;
}

/**
 * Other suites may run an admin service on the same test database at the same time; their
 * events change the global numbers. A comparison of global numbers is only meaningful while
 * nothing else arrived, which this mark tells.
 */
async function logMark(): Promise<string> {
  const row = await su('admin.event_log').count({ n: '*' }).max({ at: 'received_at' }).first();
  return `${row?.n}|${row?.at instanceof Date ? row.at.toISOString() : ''}`;
}

async function logCount(): Promise<number> {
  const [{ n }] = await su('admin.event_log').count<{ n: string }[]>({ n: '*' });
  return Number(n);
}

async function duplicatesSeen(): Promise<number> {
  const text = await (await fetch(`${admin.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('events_consumed_total{') && l.includes('outcome="duplicate"'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

// entities of the KPI scenario, made fresh per run
const student = id();
const teacher = id();
const slot = { slotId: id(), teacherId: teacher, startAt: at(3600).toISOString(), endAt: at(7200).toISOString() };
const pkg = id();
const B = Array.from({ length: 8 }, id);
const L = Array.from({ length: 3 }, id);
const P = Array.from({ length: 4 }, id);
const K = Array.from({ length: 4 }, id);

const held = (bookingId: string, s: number) =>
  envelope('booking.held', { bookingId, ...slot, studentId: student, holdExpiresAt: at(s + 600).toISOString() }, { at: at(s) });
const requested = (bookingId: string, s: number) =>
  envelope('booking.confirmation_requested', { bookingId, studentId: student, teacherId: teacher, packageId: pkg, startAt: slot.startAt, endAt: slot.endAt }, { at: at(s) });
const lesson = (type: 'lesson.created' | 'lesson.canceled' | 'lesson.completed', lessonId: string, s: number) =>
  envelope(type, { lessonId, bookingId: B[0], studentId: student, teacherId: teacher, startAt: slot.startAt }, { at: at(s) });
const payment = (type: 'billing.payment.created' | 'billing.payment.status_changed', paymentId: string, amountCents: number, from: any, to: any, s: number) =>
  envelope(type, { paymentId, packageId: pkg, studentId: student, amountCents, currency: 'EUR', from, to }, { at: at(s) });
const pack = (type: 'billing.package.created' | 'billing.package.depleted' | 'billing.package.expired', packageId: string, lessonsLeft: number, s: number) =>
  envelope(type, { packageId, studentId: student, lessonsTotal: 5, lessonsLeft, expiresAt: at(86_400).toISOString() }, { at: at(s) });

describe('KPI read model', () => {
  test('when entity events arrive twice and out of order, then the KPI overview counts each entity once in its latest state', async () => {
    const logBefore = await logCount();
    const before = await kpi();
    const dupsBefore = await duplicatesSeen();

    const b1Confirmed = envelope('booking.confirmed', { bookingId: B[0], ...slot, studentId: student, packageId: pkg }, { at: at(3) });
    const b3Canceled = envelope('booking.canceled', { bookingId: B[2], wasConfirmed: false, refundable: false, canceledBy: 'student', reason: null }, { at: at(2) });
    const l1Created = lesson('lesson.created', L[0], 1);
    const p1Refunded = payment('billing.payment.status_changed', P[0], 1000, 'succeeded', 'refunded', 3);
    const k4Created = pack('billing.package.created', K[3], 5, 1);
    const registered = envelope('identity.user.registered', { userId: student, email: `s-${student}@example.test`, role: 'student', fullName: 'Stu Dent' }, { at: at(0) });

    // publish order is deliberately scrambled: effects before causes, terminal before initial
    const events: Envelope[] = [
      registered,
      envelope('identity.user.registered', { userId: id(), email: `s2-${student}@example.test`, role: 'student', fullName: 'Second' }, { at: at(0) }),
      envelope('identity.user.registered', { userId: teacher, email: `t-${teacher}@example.test`, role: 'teacher', fullName: 'Tea Cher' }, { at: at(0) }),
      // B1: held → confirming → confirmed, confirmed first
      b1Confirmed,
      held(B[0], 1),
      requested(B[0], 2),
      // B2: held → expired, expired first
      envelope('booking.expired', { bookingId: B[1], slotId: slot.slotId }, { at: at(11) }),
      held(B[1], 1),
      // B3: held → canceled
      held(B[2], 1),
      b3Canceled,
      // B4: only held
      held(B[3], 1),
      // B5: confirming, held arriving late
      requested(B[4], 2),
      held(B[4], 1),
      // B6: held → confirming → rejected, rejected first
      envelope('booking.rejected', { bookingId: B[5], reason: 'insufficient_lessons' }, { at: at(3) }),
      requested(B[5], 2),
      held(B[5], 1),
      // B7 confirmed, then rescheduled to B8 (the link event first, the cancel of B7 last)
      envelope('booking.rescheduled', { fromBookingId: B[6], toBookingId: B[7] }, { at: at(20) }),
      envelope('booking.confirmed', { bookingId: B[6], ...slot, studentId: student, packageId: pkg }, { at: at(3) }),
      requested(B[7], 20),
      envelope('booking.canceled', { bookingId: B[6], wasConfirmed: true, refundable: true, canceledBy: 'student', reason: 'reschedule' }, { at: at(20) }),
      // lessons: L1 created → canceled (canceled first), L2 scheduled, L3 created → completed (completed first)
      lesson('lesson.canceled', L[0], 5),
      l1Created,
      lesson('lesson.created', L[1], 1),
      lesson('lesson.completed', L[2], 9),
      lesson('lesson.created', L[2], 1),
      // payments: P1 pending → succeeded → refunded (reversed); P2 failed → pending → succeeded (shuffled); P3 pending; P4 failed
      p1Refunded,
      payment('billing.payment.status_changed', P[0], 1000, 'pending', 'succeeded', 2),
      payment('billing.payment.created', P[0], 1000, null, 'pending', 1),
      payment('billing.payment.status_changed', P[1], 2500, 'pending', 'succeeded', 4),
      payment('billing.payment.status_changed', P[1], 2500, 'pending', 'failed', 2),
      payment('billing.payment.created', P[1], 2500, null, 'pending', 1),
      payment('billing.payment.status_changed', P[1], 2500, 'failed', 'pending', 3),
      payment('billing.payment.created', P[2], 700, null, 'pending', 1),
      payment('billing.payment.status_changed', P[3], 300, 'pending', 'failed', 2),
      payment('billing.payment.created', P[3], 300, null, 'pending', 1),
      // packages: K1 depleted by a debit then active again after a credit; K2 expired (a later credit does not revive it);
      // K3 depleted; K4 active
      envelope('billing.lesson.credited', { bookingId: B[0], packageId: K[0], lessonsLeft: 1 }, { at: at(3) }),
      pack('billing.package.depleted', K[0], 0, 2),
      envelope('billing.lesson.debited', { bookingId: B[0], packageId: K[0], lessonsLeft: 0 }, { at: at(2) }),
      pack('billing.package.created', K[0], 1, 1),
      envelope('billing.lesson.credited', { bookingId: B[1], packageId: K[1], lessonsLeft: 3 }, { at: at(9) }),
      pack('billing.package.expired', K[1], 2, 5),
      pack('billing.package.created', K[1], 5, 1),
      pack('billing.package.depleted', K[2], 0, 4),
      pack('billing.package.created', K[2], 5, 1),
      k4Created,
    ];
    const duplicates = [b1Confirmed, b3Canceled, l1Created, p1Refunded, k4Created, registered];

    for (const event of events) await publisher.publish(event);
    for (const event of duplicates) await publisher.publish(event);

    const expected = {
      users: { student: 2, teacher: 1, admin: 0, total: 3 },
      bookings: { hold: 1, confirming: 2, confirmed: 1, rejected: 1, canceled: 2, expired: 1, total: 8 },
      lessons: { scheduled: 1, canceled: 1, completed: 1, total: 3 },
      payments: { pending: 1, succeeded: 1, failed: 1, refunded: 1, total: 4, succeededAmountCents: 3500, refundedAmountCents: 1000, netAmountCents: 2500 },
      packages: { active: 2, depleted: 1, expired: 1, canceled: 0, total: 4 },
    };
    // every duplicate has been seen (and skipped), so every event is in: the numbers are final
    await eventually(
      async () => {
        expect((await duplicatesSeen()) - dupsBefore).toBe(duplicates.length);
        return true;
      },
      { timeoutMs: 20_000 },
    );
    // the state of each entity, whatever else runs at the same time
    const states = async (table: string, idColumn: string, ids: string[], column = 'status') => {
      const rows = await su(`admin.${table}`).whereIn(idColumn, ids).select(idColumn, column);
      const byId = new Map(rows.map((r) => [r[idColumn], r[column]]));
      return ids.map((i) => byId.get(i));
    };
    await eventually(async () => {
      expect(await states('kpi_bookings', 'booking_id', B)).toEqual(['confirmed', 'expired', 'canceled', 'hold', 'confirming', 'rejected', 'canceled', 'confirming']);
      expect(await states('kpi_lessons', 'lesson_id', L)).toEqual(['canceled', 'scheduled', 'completed']);
      expect(await states('kpi_payments', 'payment_id', P)).toEqual(['refunded', 'succeeded', 'pending', 'failed']);
      expect(await states('kpi_packages', 'package_id', K)).toEqual(['active', 'expired', 'depleted', 'active']);
      expect(await states('kpi_users', 'user_id', [student, teacher], 'role')).toEqual(['student', 'teacher']);
      return true;
    });
    // and the overview's numbers moved by exactly these entities (checked when no other suite's events arrived meanwhile)
    const after = await kpi();
    const foreign = (await logCount()) - logBefore - events.length;
    if (foreign === 0) expect(diff(after, before)).toEqual(expected);
    expect(after.payments.byCurrency.EUR.netAmountCents).toBeGreaterThanOrEqual(2500);
    expect(Date.parse(after.asOf)).toBeGreaterThanOrEqual(at(20).getTime());

    // each event is logged once, duplicates included
    const logged = await su('admin.event_log').whereIn('event_id', duplicates.map((e) => e.id)).count<{ n: string }[]>({ n: '*' });
    expect(Number(logged[0].n)).toBe(duplicates.length);
    const links = await su('admin.kpi_bookings').whereIn('booking_id', [B[6], B[7]]).orderBy('status');
    expect(links.map((r) => [r.status, r.rescheduled_from_id, r.rescheduled_to_id])).toEqual([
      ['canceled', null, B[7]],
      ['confirming', B[6], null],
    ]);
    const actions = await su('admin.admin_actions').where({ admin_id: adminId, action: 'admin.kpi.view' });
    expect(actions.length).toBeGreaterThanOrEqual(2);
  });

  test('when the read model is rebuilt from the event log, then the KPI numbers are the same as live consumption gave', async () => {
    const damage = async () => {
      // damage the read model the way a bug or a lost write would
      await su('admin.kpi_bookings').where({ booking_id: B[0] }).del();
      await su('admin.kpi_payments').where({ payment_id: P[0] }).update({ status: 'pending' });
      await su('admin.kpi_lessons').where({ lesson_id: L[2] }).update({ status: 'scheduled' });
    };
    const cli = path.resolve(__dirname, '../dist/src/cli/rebuild-kpi.js');
    const rebuilds: [string, () => Promise<unknown>][] = [
      [
        'rebuildKpi()',
        async () => {
          const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: 'admin', pool: { min: 0, max: 2 } });
          try {
            const { events } = await rebuildKpi(db);
            expect(events).toBeGreaterThan(40);
          } finally {
            await db.destroy();
          }
        },
      ],
      ['npm run kpi:rebuild', () => promisify(execFile)(process.execPath, [cli], { env: { ...process.env, DATABASE_URL: testInfra().databaseUrl, LOG_LEVEL: 'silent' } })],
    ];
    for (const [name, rebuild] of rebuilds) {
      // retried only when another suite's events arrived during the comparison
      for (let attempt = 1; ; attempt++) {
        const mark = await logMark();
        const live = withoutAsOf(await kpi());
        await damage();
        expect(withoutAsOf(await kpi())).not.toEqual(live);
        await rebuild();
        const rebuilt = withoutAsOf(await kpi());
        if ((await logMark()) !== mark && attempt < 3) continue;
        expect([name, rebuilt]).toEqual([name, live]);
        break;
      }
    }
    expect(await su('admin.kpi_bookings').where({ booking_id: B[0] }).first()).toMatchObject({ status: 'confirmed' });
  });
});

describe('traces', () => {
  test('when a flow has crossed several services, then its trace lists its events in causal order with producer and consumers', async () => {
    const correlationId = `req-${randomUUID()}`;
    const t0 = Date.now() - 5_000;
    const c = { correlationId };
    const bookingId = id();
    const lessonId = id();
    const requestedEv = envelope('booking.confirmation_requested', { bookingId, studentId: student, teacherId: teacher, packageId: pkg, startAt: slot.startAt, endAt: slot.endAt }, { ...c, at: new Date(t0) });
    const debited = envelope('billing.lesson.debited', { bookingId, packageId: pkg, lessonsLeft: 4 }, { ...c, at: new Date(t0 + 5), causationId: requestedEv.id });
    // same millisecond as its cause: causation decides
    const confirmed = envelope('booking.confirmed', { bookingId, ...slot, studentId: student, packageId: pkg }, { ...c, at: new Date(t0 + 5), causationId: debited.id });
    // lessons' clock is 2 ms behind: still after its cause
    const created = envelope('lesson.created', { lessonId, bookingId, studentId: student, teacherId: teacher, startAt: slot.startAt }, { ...c, at: new Date(t0 + 3), causationId: confirmed.id });
    const sent = envelope('notification.sent', { notificationId: id(), userId: student, channel: 'email', attempts: 1 }, { ...c, at: new Date(t0 + 10), causationId: confirmed.id });
    const unrelated = envelope('booking.held', { bookingId: id(), ...slot, studentId: student, holdExpiresAt: slot.endAt }, { at: new Date(t0 + 1) });

    for (const e of [sent, created, confirmed, unrelated, debited, requestedEv, confirmed]) await publisher.publish(e);

    const trace = await eventually(async () => {
      const res = await call(admin.url, `/api/v1/admin/traces/${correlationId}`, { token: adminToken });
      expect(res.status).toBe(200);
      expect(res.body.events).toHaveLength(5);
      return res.body;
    });
    expect(trace.correlationId).toBe(correlationId);
    expect(trace.events.map((e: any) => e.id)).toEqual([requestedEv.id, debited.id, confirmed.id, created.id, sent.id]);
    expect(trace.events.map((e: any) => [e.type, e.producer])).toEqual([
      ['booking.confirmation_requested', 'booking'],
      ['billing.lesson.debited', 'billing'],
      ['booking.confirmed', 'booking'],
      ['lesson.created', 'lessons'],
      ['notification.sent', 'notifications'],
    ]);
    expect(trace.events[0].consumers).toEqual(['billing', 'admin']);
    expect(trace.events[2].consumers).toEqual(['lessons', 'notifications', 'admin']);
    expect(trace.events[2].causationId).toBe(debited.id);
    expect(trace.events[0].payload.bookingId).toBe(bookingId);

    const action = await su('admin.admin_actions').where({ admin_id: adminId, action: 'admin.traces.view', target: correlationId }).first();
    expect(action).toBeDefined();
  });

  test('when no event carries a correlation id, then its trace is empty', async () => {
    const res = await call(admin.url, `/api/v1/admin/traces/nothing-${randomUUID()}`, { token: adminToken });
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([]);
  });

  test('when the correlation id holds U+0000 (no Postgres text can), then 400 validation_failed and no admin action is written', async () => {
    const res = await call(admin.url, '/api/v1/admin/traces/a%00b', { token: adminToken });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ path: 'params.correlationId' }] });
    expect(await su('admin.admin_actions').where({ admin_id: adminId, action: 'admin.traces.view' }).whereLike('target', 'a%b')).toEqual([]);
  });
});
