import { randomUUID } from 'node:crypto';
import { eventually } from '@guitaronline/testing';
import { DAY, MINUTE, confirmedBooking, awaitEvents, consumed, eventsFor, recorded, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function heldBooking() {
  const student = h.user('student');
  const slot = await h.slot(3 * DAY);
  const res = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
  expect(res.status).toBe(201);
  return { booking: res.body, student, slot };
}

const get = (id: string, token: string) => h.api('GET', `/api/v1/booking/${id}`, { token });
const confirm = (id: string, token: string, body: unknown = {}, headers?: Record<string, string>) => h.api('POST', `/api/v1/booking/${id}/confirm`, { token, body, headers });
const statusOf = async (id: string, token: string) => (await get(id, token)).body.status;

describe('the confirm saga', () => {
  test('when a student confirms a hold, then 202 confirming and booking.confirmation_requested goes to billing with the chosen package', async () => {
    const { booking, student, slot } = await heldBooking();
    const packageId = randomUUID();
    const res = await confirm(booking.id, student.token, { packageId });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: booking.id, status: 'confirming', packageId });
    const [event] = await awaitEvents(h, 'booking.confirmation_requested', booking.id);
    expect(event.payload).toEqual({
      bookingId: booking.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      packageId,
      startAt: booking.startAt,
      endAt: booking.endAt,
      attempt: 1,
    });
    expect(event.correlationId).toBe(res.headers.get('x-request-id'));
    const slots = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: student.token });
    expect(slots.body.items[0].status).toBe('held');
  });

  test('when billing debits the lesson, then the booking is confirmed with that package, booking.confirmed is published and the slot is booked', async () => {
    const { booking, student, slot } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
    const packageId = randomUUID();
    const debitId = await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 3 });
    await eventually(async () => (await statusOf(booking.id, student.token)) === 'confirmed');
    const after = (await get(booking.id, student.token)).body;
    expect(after.packageId).toBe(packageId);
    const [event] = await awaitEvents(h, 'booking.confirmed', booking.id);
    expect(event.payload).toEqual({
      bookingId: booking.id,
      slotId: slot.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      packageId,
      startAt: booking.startAt,
      endAt: booking.endAt,
    });
    expect(event.causationId).toBe(debitId);
    const slots = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: student.token });
    expect(slots.body.items[0].status).toBe('booked');
  });

  test('when billing rejects the debit, then the booking is rejected with the reason, booking.rejected is published and another student can hold the slot', async () => {
    const { booking, student, slot } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
    await h.publish('billing.lesson.debit_rejected', { bookingId: booking.id, reason: 'insufficient_lessons' });
    await eventually(async () => (await statusOf(booking.id, student.token)) === 'rejected');
    expect((await get(booking.id, student.token)).body.rejectReason).toBe('insufficient_lessons');
    const [event] = await awaitEvents(h, 'booking.rejected', booking.id);
    expect(event.payload).toEqual({ bookingId: booking.id, reason: 'insufficient_lessons', slotId: slot.id, studentId: student.id, teacherId: slot.teacher.id, startAt: booking.startAt });
    const other = await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: slot.id } });
    expect(other.status).toBe(201);
  });

  test('when the client sends Prefer: wait=2 and billing answers in time, then 200 with the confirmed booking', async () => {
    const { booking, student } = await heldBooking();
    const packageId = randomUUID();
    const pending = confirm(booking.id, student.token, {}, { Prefer: 'wait=2' });
    await eventually(() => eventsFor(h, 'booking.confirmation_requested', booking.id).length > 0);
    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 0 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: booking.id, status: 'confirmed', packageId });
  });

  test('when the client sends Prefer: wait=1 and billing stays silent, then 202 confirming after about a second', async () => {
    const { booking, student } = await heldBooking();
    const started = Date.now();
    const res = await confirm(booking.id, student.token, {}, { Prefer: 'respond-async, wait=1' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('confirming');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test('when confirm is repeated, then confirming → 202 unchanged, confirmed → 200 unchanged, and no second request or confirmation', async () => {
    const { booking, student } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
    const again = await confirm(booking.id, student.token, { packageId: randomUUID() });
    expect(again.status).toBe(202);
    expect(again.body.packageId).toBeNull();
    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId: randomUUID(), lessonsLeft: 1 });
    await eventually(async () => (await statusOf(booking.id, student.token)) === 'confirmed');
    const done = await confirm(booking.id, student.token, {});
    expect(done.status).toBe(200);
    expect(done.body.status).toBe('confirmed');
    expect(await recorded(h, 'booking.confirmation_requested', booking.id)).toBe(1);
    expect(await recorded(h, 'booking.confirmed', booking.id)).toBe(1);
  });

  test('when debited arrives twice (same message, then a new message for the same booking), then one confirmation only', async () => {
    const { booking, student } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
    const packageId = randomUUID();
    const id = await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 2 });
    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 2 }, { id });
    const second = await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 2 });
    await consumed(h, id, second);
    expect(await statusOf(booking.id, student.token)).toBe('confirmed');
    expect(await recorded(h, 'booking.confirmed', booking.id)).toBe(1);
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(0);
    await awaitEvents(h, 'booking.confirmed', booking.id);
    expect((await get(booking.id, student.token)).body.packageId).toBe(packageId);
  });

  test('when debited arrives after the booking was confirmed and canceled, then nothing changes (the cancel already told billing)', async () => {
    const { booking, student, packageId } = await confirmedBooking(h);
    const cancel = await h.api('POST', `/api/v1/booking/${booking.id}/cancel`, { token: student.token, body: {} });
    expect(cancel.status).toBe(200);
    await consumed(h, await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 2 }));
    const after = (await get(booking.id, student.token)).body;
    expect(after.status).toBe('canceled');
    expect(after.updatedAt).toBe(cancel.body.updatedAt);
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(1);
  });

  test('when a debit arrives after the booking was rejected, then it stays rejected and one refundable booking.canceled compensates, once', async () => {
    const { booking, student, slot } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
    await h.publish('billing.lesson.debit_rejected', { bookingId: booking.id, reason: 'no_active_package' });
    await eventually(async () => (await statusOf(booking.id, student.token)) === 'rejected');
    const packageId = randomUUID();
    await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 0 });
    const [event] = await awaitEvents(h, 'booking.canceled', booking.id);
    expect(event.payload).toEqual({
      bookingId: booking.id,
      packageId,
      wasConfirmed: false,
      refundable: true,
      canceledBy: 'admin',
      reason: 'debit_after_rejection',
      slotId: slot.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      startAt: booking.startAt,
    });
    await consumed(
      h,
      await h.publish('billing.lesson.debited', { bookingId: booking.id, packageId, lessonsLeft: 0 }),
      await h.publish('billing.lesson.debit_rejected', { bookingId: booking.id, reason: 'no_active_package' }),
    );
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(1);
    expect(await recorded(h, 'booking.rejected', booking.id)).toBe(1);
    expect(await statusOf(booking.id, student.token)).toBe('rejected');
  });

  test('when debit_rejected arrives for a confirmed booking, then it stays confirmed', async () => {
    const { booking, student } = await confirmedBooking(h);
    await consumed(h, await h.publish('billing.lesson.debit_rejected', { bookingId: booking.id, reason: 'insufficient_lessons' }));
    expect(await statusOf(booking.id, student.token)).toBe('confirmed');
    expect(await recorded(h, 'booking.rejected', booking.id)).toBe(0);
  });

  test('when billing answers for a booking booking does not know, then the message is consumed and nothing breaks', async () => {
    await consumed(
      h,
      await h.publish('billing.lesson.debited', { bookingId: randomUUID(), packageId: randomUUID(), lessonsLeft: 1 }),
      await h.publish('billing.lesson.debit_rejected', { bookingId: randomUUID(), reason: 'package_expired' }),
    );
    const { booking, student } = await heldBooking();
    expect((await confirm(booking.id, student.token)).status).toBe(202);
  });

  test('when the hold has run out, then confirm is 409 hold_expired and the booking is expired', async () => {
    const { booking, student, slot } = await heldBooking();
    h.clock.advance(10 * MINUTE + 1_000);
    const res = await confirm(booking.id, student.token);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('hold_expired');
    expect(await statusOf(booking.id, student.token)).toBe('expired');
    await eventually(() => eventsFor(h, 'booking.expired', booking.id).length === 1);
    expect((await confirm(booking.id, student.token)).body.code).toBe('hold_expired');
    expect((await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: slot.id } })).status).toBe(201);
  });

  test("when another student or a teacher confirms someone's hold, then 404 / 403, and bad bodies are 400", async () => {
    const { booking, student } = await heldBooking();
    expect((await confirm(booking.id, h.user('student').token)).status).toBe(404);
    expect((await confirm(booking.id, h.user('teacher').token)).status).toBe(403);
    const bad = await confirm(booking.id, student.token, { packageId: 'nope', more: true });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body', 'body.packageId']);
    expect((await confirm('not-a-uuid', student.token)).status).toBe(400);
    expect(await statusOf(booking.id, student.token)).toBe('hold');
  });
});
