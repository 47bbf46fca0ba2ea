import { randomUUID } from 'node:crypto';
import { eventually, sleep } from '@guitaronline/testing';
import { DAY, MINUTE, awaitEvents, confirmedBooking, eventsFor, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { BOOKING_CONFIRM_TIMEOUT_SECONDS: '30', BOOKING_CONFIRM_MAX_REQUESTS: '3' } });
});
afterAll(async () => {
  await h?.close();
});

const hold = (token: string, slotId: string) => h.api('POST', '/api/v1/booking/hold', { token, body: { slotId } });
const statusOf = async (id: string, token: string) => (await h.api('GET', `/api/v1/booking/${id}`, { token })).body.status;

async function metric(harness: Harness, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${harness.svc.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('hold expiry', () => {
  test('when an admin expires holds after they ran out, then {expired: n}, booking.expired is published and another student can hold the slot', async () => {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await hold(student.token, slot.id);
    expect(held.status).toBe(201);
    const admin = h.user('admin');
    expect((await h.api('POST', '/api/v1/booking/holds/expire', { token: admin.token })).body).toEqual({ expired: 0 });
    h.clock.advance(10 * MINUTE + 1_000);
    const res = await h.api('POST', '/api/v1/booking/holds/expire', { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ expired: 1 });
    expect(await statusOf(held.body.id, student.token)).toBe('expired');
    const [event] = await awaitEvents(h, 'booking.expired', held.body.id);
    expect(event.payload).toEqual({ bookingId: held.body.id, slotId: slot.id, studentId: student.id, teacherId: slot.teacher.id });
    expect(event.correlationId).toBe(held.headers.get('x-request-id'));
    expect((await hold(h.user('student').token, slot.id)).status).toBe(201);
    expect(await metric(h, 'booking_holds_expired_total', 'trigger="admin"')).toBe(1);
  });

  test('when a student or a teacher calls the expire endpoint, then 403 and nothing is expired', async () => {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await hold(student.token, slot.id);
    h.clock.advance(11 * MINUTE);
    expect((await h.api('POST', '/api/v1/booking/holds/expire', { token: student.token })).status).toBe(403);
    expect((await h.api('POST', '/api/v1/booking/holds/expire', { token: slot.teacher.token })).status).toBe(403);
    expect((await h.api('POST', '/api/v1/booking/holds/expire')).status).toBe(401);
    expect(await statusOf(held.body.id, student.token)).toBe('hold');
  });

  test('when a hold ran out but was not swept yet, then the slot lists as open, another student can take it and the old hold is expired on the way', async () => {
    const first = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await hold(first.token, slot.id);
    h.clock.advance(10 * MINUTE);
    const list = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: first.token });
    expect(list.body.items[0].status).toBe('open');
    const second = await hold(h.user('student').token, slot.id);
    expect(second.status).toBe(201);
    expect(await statusOf(held.body.id, first.token)).toBe('expired');
    await eventually(() => eventsFor(h, 'booking.expired', held.body.id).length === 1);
  });

  test('when holds ran out, then they no longer count towards the hold limit', async () => {
    const student = h.user('student');
    for (let i = 0; i < 3; i += 1) expect((await hold(student.token, (await h.slot((i + 2) * DAY)).id)).status).toBe(201);
    expect((await hold(student.token, (await h.slot(6 * DAY)).id)).body.code).toBe('too_many_holds');
    h.clock.advance(10 * MINUTE);
    expect((await hold(student.token, (await h.slot(7 * DAY)).id)).status).toBe(201);
  });

  test('when the background sweep runs with a fractional BOOKING_HOLD_MINUTES, then a run-out hold is expired without any request', async () => {
    // a replica of h (same database and bus) with a fast sweep and 30-second holds
    const swept = await startHarness({ env: { BOOKING_HOLD_MINUTES: '0.5', BOOKING_HOLD_SWEEP_INTERVAL_MS: '100' }, bus: h.bus, database: h.database });
    try {
      swept.clock.advance(h.clock.now().getTime() - swept.clock.now().getTime());
      const student = swept.user('student');
      const slot = await swept.slot(2 * DAY);
      const held = await swept.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
      expect(held.status).toBe(201);
      expect(Date.parse(held.body.holdExpiresAt) - Date.parse(held.body.createdAt)).toBe(30_000);
      await sleep(300);
      expect((await swept.api('GET', `/api/v1/booking/${held.body.id}`, { token: student.token })).body.status).toBe('hold');
      swept.clock.advance(31_000);
      await eventually(async () => (await swept.api('GET', `/api/v1/booking/${held.body.id}`, { token: student.token })).body.status === 'expired');
      await eventually(() => eventsFor(swept, 'booking.expired', held.body.id).length === 1);
      expect((await swept.api('POST', '/api/v1/booking/hold', { token: swept.user('student').token, body: { slotId: slot.id } })).status).toBe(201);
      h.clock.advance(swept.clock.now().getTime() - h.clock.now().getTime());
    } finally {
      await swept.close();
    }
  });
});

test('when an Idempotency-Key is older than its 24 h retention, then the sweep forgets it and the key starts afresh', async () => {
  const student = h.user('student');
  const slot = await h.slot(3 * DAY);
  const first = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id }, headers: { 'Idempotency-Key': 'old-key' } });
  expect(first.status).toBe(201);
  h.clock.advance(DAY + MINUTE);
  expect(await h.svc.sweepHolds()).toBeGreaterThanOrEqual(1);
  const again = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id }, headers: { 'Idempotency-Key': 'old-key' } });
  expect(again.status).toBe(201);
  expect(again.body.id).not.toBe(first.body.id);
});

describe('the confirm watchdog', () => {
  async function confirming() {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await hold(student.token, slot.id);
    const res = await h.api('POST', `/api/v1/booking/${held.body.id}/confirm`, { token: student.token, body: {} });
    expect(res.status).toBe(202);
    return { booking: res.body, student, slot, requestId: res.headers.get('x-request-id') };
  }

  test('when billing never answers, then the request is repeated up to BOOKING_CONFIRM_MAX_REQUESTS, then the booking is rejected with confirmation_timeout', async () => {
    const { booking, student, slot, requestId } = await confirming();
    expect(await h.svc.runWatchdog()).toEqual({ reRequested: 0, rejected: 0 });
    h.clock.advance(31_000);
    expect(await h.svc.runWatchdog()).toEqual({ reRequested: 1, rejected: 0 });
    h.clock.advance(31_000);
    expect(await h.svc.runWatchdog()).toEqual({ reRequested: 1, rejected: 0 });
    const requests = await awaitEvents(h, 'booking.confirmation_requested', booking.id, 3);
    expect(requests.map((e) => e.payload.attempt)).toEqual([1, 2, 3]);
    expect(requests.every((e) => e.correlationId === requestId)).toBe(true);
    expect(await statusOf(booking.id, student.token)).toBe('confirming');
    h.clock.advance(31_000);
    expect(await h.svc.runWatchdog()).toEqual({ reRequested: 0, rejected: 1 });
    expect((await h.api('GET', `/api/v1/booking/${booking.id}`, { token: student.token })).body).toMatchObject({ status: 'rejected', rejectReason: 'confirmation_timeout' });
    const [rejected] = await awaitEvents(h, 'booking.rejected', booking.id);
    expect(rejected.payload).toMatchObject({ bookingId: booking.id, reason: 'confirmation_timeout', slotId: slot.id });
    expect(rejected.correlationId).toBe(requestId);
    expect(await metric(h, 'booking_confirm_watchdog_total', 'action="re_requested"')).toBeGreaterThanOrEqual(2);
    expect(await metric(h, 'booking_confirm_watchdog_total', 'action="rejected"')).toBeGreaterThanOrEqual(1);
    // the slot is free again
    expect((await hold(h.user('student').token, slot.id)).status).toBe(201);

    // billing's debit finally arrives: the lesson is given back by a compensating cancel
    const packageId = randomUUID();
    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 0 });
    const [compensation] = await awaitEvents(h, 'booking.canceled', booking.id);
    expect(compensation.payload).toMatchObject({ wasConfirmed: false, refundable: true, packageId, reason: 'debit_after_rejection' });
    expect(await statusOf(booking.id, student.token)).toBe('rejected');
  });

  test('when a booking is stuck, then the gauge and GET /internal/ops show it; a debit in time settles it and the watchdog leaves it alone', async () => {
    const { booking, student } = await confirming();
    const heldSlot = await h.slot(3 * DAY);
    await hold(h.user('student').token, heldSlot.id);
    h.clock.advance(31_000);
    expect(await metric(h, 'booking_stuck_confirming')).toBeGreaterThanOrEqual(1);
    h.clock.advance(10 * MINUTE);
    const admin = h.user('admin');
    const ops = await h.api('GET', '/internal/ops', { token: admin.token });
    expect(ops.status).toBe(200);
    expect(ops.body).toEqual({ outbox: { pending: expect.any(Number), oldestPendingSeconds: expect.any(Number) }, staleHolds: expect.any(Number), stuckConfirming: expect.any(Number) });
    expect(ops.body.stuckConfirming).toBeGreaterThanOrEqual(1);
    expect(ops.body.staleHolds).toBeGreaterThanOrEqual(1);
    expect((await h.api('GET', '/internal/ops', { token: student.token })).status).toBe(403);

    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId: randomUUID(), lessonsLeft: 5 });
    await eventually(async () => (await statusOf(booking.id, student.token)) === 'confirmed');
    await h.svc.runWatchdog();
    await h.svc.sweepHolds();
    expect(await statusOf(booking.id, student.token)).toBe('confirmed');
    const after = await h.api('GET', '/internal/ops', { token: admin.token });
    expect(after.body).toMatchObject({ staleHolds: 0, stuckConfirming: 0 });
  });

  test("when a reschedule's successor is stuck in confirming, then the repeated request names the replaced booking again", async () => {
    const { booking: old, student } = await confirmedBooking(h, { inMs: 3 * DAY });
    const target = await h.slot(4 * DAY);
    const res = await h.api('POST', `/api/v1/booking/${old.id}/reschedule`, { token: student.token, body: { newSlotId: target.id } });
    expect(res.status).toBe(201);
    h.clock.advance(31_000);
    expect(await h.svc.runWatchdog()).toEqual({ reRequested: 1, rejected: 0 });
    const requests = await awaitEvents(h, 'booking.confirmation_requested', res.body.id, 2);
    expect(requests.map((e) => [e.payload.attempt, e.payload.rescheduledFrom])).toEqual([
      [1, { bookingId: old.id, refundable: true }],
      [2, { bookingId: old.id, refundable: true }],
    ]);
    await h.publish('billing.lesson.debited', { bookingId: res.body.id, packageId: randomUUID(), lessonsLeft: 3 });
    await eventually(async () => (await statusOf(res.body.id, student.token)) === 'confirmed');
  });

  test('when the watchdog runs in the background, then a stuck booking is re-requested without anyone calling it', async () => {
    const background = await startHarness({ env: { BOOKING_WATCHDOG_INTERVAL_MS: '100', BOOKING_CONFIRM_TIMEOUT_SECONDS: '5' }, bus: h.bus, database: h.database });
    try {
      background.clock.advance(h.clock.now().getTime() - background.clock.now().getTime());
      const student = background.user('student');
      const slot = await background.slot(2 * DAY);
      const held = await background.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
      expect((await background.api('POST', `/api/v1/booking/${held.body.id}/confirm`, { token: student.token, body: {} })).status).toBe(202);
      background.clock.advance(6_000);
      const again = await awaitEvents(background, 'booking.confirmation_requested', held.body.id, 2);
      expect(again[1].payload.attempt).toBe(2);
    } finally {
      await background.close();
    }
  });
});
