import { randomUUID } from 'node:crypto';
import { eventually } from '@guitaronline/testing';
import { DAY, HOUR, confirmedBooking, awaitEvents, recorded, startHarness, type Harness } from './helpers';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const cancel = (id: string, token: string, body: unknown = {}) => h.api('POST', `/api/v1/booking/${id}/cancel`, { token, body });
const reschedule = (id: string, token: string, body: unknown) => h.api('POST', `/api/v1/booking/${id}/reschedule`, { token, body });
const get = (id: string, token: string) => h.api('GET', `/api/v1/booking/${id}`, { token });

async function canceledEvent(bookingId: string) {
  const [event] = await awaitEvents(h, 'booking.canceled', bookingId);
  return event;
}

describe('cancel', () => {
  test('when the student cancels a confirmed booking more than 24 h ahead, then 200 canceled, refundable true, and booking.canceled carries the decision', async () => {
    const { booking, student, slot, packageId } = await confirmedBooking(h, { inMs: 2 * DAY });
    const res = await cancel(booking.id, student.token, { reason: 'exam week' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled', refundable: true, canceledBy: 'student', cancelReason: 'exam week', packageId });
    const event = await canceledEvent(booking.id);
    expect(event.payload).toEqual({
      bookingId: booking.id,
      packageId,
      wasConfirmed: true,
      refundable: true,
      canceledBy: 'student',
      canceledById: student.id,
      reason: 'exam week',
      slotId: slot.id,
      studentId: student.id,
      teacherId: slot.teacher.id,
      startAt: booking.startAt,
    });
    const slots = await h.api('GET', `/api/v1/scheduling/slots?teacherId=${slot.teacher.id}`, { token: student.token });
    expect(slots.body.items[0].status).toBe('open');
  });

  test('when the student cancels inside the refund window (the clock moved on), then refundable false', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 2 * DAY });
    h.clock.advance(DAY + HOUR); // now 23 h before the start
    const res = await cancel(booking.id, student.token);
    expect(res.status).toBe(200);
    expect(res.body.refundable).toBe(false);
    expect((await canceledEvent(booking.id)).payload).toMatchObject({ wasConfirmed: true, refundable: false, reason: null });
  });

  test('when the teacher or an admin cancels, even an hour ahead, then refundable true', async () => {
    const byTeacher = await confirmedBooking(h, { inMs: HOUR });
    const res = await cancel(byTeacher.booking.id, byTeacher.slot.teacher.token, { reason: 'sick' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ refundable: true, canceledBy: 'teacher' });
    expect((await canceledEvent(byTeacher.booking.id)).payload).toMatchObject({ refundable: true, canceledBy: 'teacher', canceledById: byTeacher.slot.teacher.id });

    const byAdmin = await confirmedBooking(h, { inMs: HOUR });
    const admin = h.user('admin');
    const res2 = await cancel(byAdmin.booking.id, admin.token);
    expect(res2.body).toMatchObject({ status: 'canceled', refundable: true, canceledBy: 'admin' });
  });

  test('when a hold is canceled, then it costs nothing: refundable false, wasConfirmed false, the slot is open', async () => {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
    const res = await cancel(held.body.id, student.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled', refundable: false, packageId: null });
    expect((await canceledEvent(held.body.id)).payload).toMatchObject({ wasConfirmed: false, refundable: false, packageId: null });
    expect((await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: slot.id } })).status).toBe(201);
  });

  test('when cancel is repeated, then 200 unchanged and no second event; the refund decision is not made again', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 2 * DAY });
    const first = await cancel(booking.id, student.token);
    h.clock.advance(DAY + HOUR);
    const again = await cancel(booking.id, h.issuer.token({ role: 'admin' }), { reason: 'again' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(1);
  });

  test('when the booking is confirming, then cancel is 409 booking_in_progress and nothing changes', async () => {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
    expect((await h.api('POST', `/api/v1/booking/${held.body.id}/confirm`, { token: student.token, body: {} })).status).toBe(202);
    const res = await cancel(held.body.id, student.token);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('booking_in_progress');
    expect((await get(held.body.id, student.token)).body.status).toBe('confirming');
  });

  test('when someone unrelated cancels, then 404; an over-long reason is 400', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 2 * DAY });
    expect((await cancel(booking.id, h.user('student').token)).status).toBe(404);
    expect((await cancel(booking.id, h.user('teacher').token)).status).toBe(404);
    const long = await cancel(booking.id, student.token, { reason: 'x'.repeat(501) });
    expect(long.status).toBe(400);
    expect(long.body.errors[0].path).toBe('body.reason');
    expect((await get(booking.id, student.token)).body.status).toBe('confirmed');
  });
});

describe('reschedule', () => {
  test('when a confirmed booking is rescheduled, then 201 a new confirming booking linked both ways, with canceled + confirmation_requested + rescheduled events', async () => {
    const { booking, student, packageId } = await confirmedBooking(h, { inMs: 3 * DAY });
    const target = await h.slot(4 * DAY);
    const res = await reschedule(booking.id, student.token, { newSlotId: target.id });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'confirming', slotId: target.id, teacherId: target.teacher.id, studentId: student.id, rescheduledFromId: booking.id, rescheduledToId: null });
    const old = (await get(booking.id, student.token)).body;
    expect(old).toMatchObject({ status: 'canceled', refundable: true, canceledBy: 'student', cancelReason: 'rescheduled', rescheduledToId: res.body.id });
    expect((await canceledEvent(booking.id)).payload).toMatchObject({ wasConfirmed: true, refundable: true, packageId, reason: 'rescheduled' });
    const [requested] = await awaitEvents(h, 'booking.confirmation_requested', res.body.id);
    expect(requested.payload).toMatchObject({
      bookingId: res.body.id,
      studentId: student.id,
      teacherId: target.teacher.id,
      startAt: target.startAt,
      attempt: 1,
      rescheduledFrom: { bookingId: booking.id, refundable: true },
    });
    const [tie] = await awaitEvents(h, 'booking.rescheduled', booking.id);
    expect(tie.payload).toEqual({ fromBookingId: booking.id, toBookingId: res.body.id, studentId: student.id, teacherId: target.teacher.id });

    // the successor then runs the confirm saga like any booking
    const newPackage = randomUUID();
    await h.publish('billing.lesson.debited', { bookingId: res.body.id, packageId: newPackage, lessonsLeft: 1 });
    await eventually(async () => (await get(res.body.id, student.token)).body.status === 'confirmed');
  });

  test('when a reschedule is retried, then 200 with the same successor and no new events', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 3 * DAY });
    const target = await h.slot(4 * DAY);
    const first = await reschedule(booking.id, student.token, { newSlotId: target.id });
    expect(first.status).toBe(201);
    const again = await reschedule(booking.id, student.token, { newSlotId: target.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const elsewhere = await reschedule(booking.id, student.token, { newSlotId: (await h.slot(5 * DAY)).id });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.id).toBe(first.body.id);
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(1);
    expect(await recorded(h, 'booking.rescheduled', first.body.id)).toBe(1);
    expect(await recorded(h, 'booking.confirmation_requested', first.body.id)).toBe(1);
  });

  test('when concurrent reschedules of one booking race, then one successor is made and every answer names it', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 3 * DAY });
    const targets = await Promise.all([h.slot(4 * DAY), h.slot(5 * DAY), h.slot(6 * DAY)]);
    const results = await Promise.all(targets.map((t) => reschedule(booking.id, student.token, { newSlotId: t.id })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
  });

  test('when the new slot is taken, then 409 slot_unavailable and the old booking stays confirmed with no events', async () => {
    const { booking, student } = await confirmedBooking(h, { inMs: 3 * DAY });
    const taken = await h.slot(4 * DAY);
    expect((await h.api('POST', '/api/v1/booking/hold', { token: h.user('student').token, body: { slotId: taken.id } })).status).toBe(201);
    const res = await reschedule(booking.id, student.token, { newSlotId: taken.id });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('slot_unavailable');
    const old = (await get(booking.id, student.token)).body;
    expect(old).toMatchObject({ status: 'confirmed', rescheduledToId: null, refundable: null });
    expect(await recorded(h, 'booking.canceled', booking.id)).toBe(0);
    const same = await reschedule(booking.id, student.token, { newSlotId: booking.slotId });
    expect(same.status).toBe(409);
    expect((await reschedule(booking.id, student.token, { newSlotId: randomUUID() })).status).toBe(404);
  });

  test('when the booking is not confirmed or not theirs, then 409 / 404 / 403', async () => {
    const student = h.user('student');
    const slot = await h.slot(2 * DAY);
    const held = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
    const target = await h.slot(3 * DAY);
    const onHold = await reschedule(held.body.id, student.token, { newSlotId: target.id });
    expect(onHold.status).toBe(409);
    expect(onHold.body.code).toBe('invalid_transition');
    await h.api('POST', `/api/v1/booking/${held.body.id}/confirm`, { token: student.token, body: {} });
    expect((await reschedule(held.body.id, student.token, { newSlotId: target.id })).body.code).toBe('booking_in_progress');
    const { booking } = await confirmedBooking(h, { inMs: 3 * DAY });
    expect((await reschedule(booking.id, student.token, { newSlotId: target.id })).status).toBe(404);
    expect((await reschedule(booking.id, h.user('teacher').token, { newSlotId: target.id })).status).toBe(403);
    expect((await reschedule(booking.id, student.token, { slotId: target.id })).status).toBe(400);
  });
});
