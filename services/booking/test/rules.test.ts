import { decideRefundable, slotStatusOf, slotTimeProblems, watchdogActionFor } from '../src/domain/booking-rules';
import { decodeCursor, encodeCursor } from '@guitaronline/platform';
import { preferWaitSeconds, requestHash } from '../src/api/http-helpers';
import { readConfig } from '../src/config';

const HOUR = 3_600_000;
const now = new Date('2030-01-01T12:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms);

describe('booking rules', () => {
  test('when a student cancels a confirmed booking, then it is refundable only more than the window ahead', () => {
    const base = { wasConfirmed: true, canceledBy: 'student' as const, now, windowHours: 24 };
    expect(decideRefundable({ ...base, startAt: at(24 * HOUR + 1) })).toBe(true);
    expect(decideRefundable({ ...base, startAt: at(24 * HOUR) })).toBe(false);
    expect(decideRefundable({ ...base, startAt: at(-HOUR) })).toBe(false);
  });

  test('when the teacher or an admin cancels, then refundable; a hold is never refundable', () => {
    expect(decideRefundable({ wasConfirmed: true, canceledBy: 'teacher', now, windowHours: 24, startAt: at(HOUR) })).toBe(true);
    expect(decideRefundable({ wasConfirmed: true, canceledBy: 'admin', now, windowHours: 24, startAt: at(-HOUR) })).toBe(true);
    expect(decideRefundable({ wasConfirmed: false, canceledBy: 'admin', now, windowHours: 24, startAt: at(48 * HOUR) })).toBe(false);
  });

  test('when a slot has a live booking, then its status follows it, and a run-out hold leaves it open', () => {
    expect(slotStatusOf(undefined, now)).toBe('open');
    expect(slotStatusOf({ status: 'hold', holdExpiresAt: at(1) }, now)).toBe('held');
    expect(slotStatusOf({ status: 'hold', holdExpiresAt: now }, now)).toBe('open');
    expect(slotStatusOf({ status: 'confirming', holdExpiresAt: at(-HOUR) }, now)).toBe('held');
    expect(slotStatusOf({ status: 'confirmed', holdExpiresAt: at(-HOUR) }, now)).toBe('booked');
  });

  test('when slot times are checked, then past, backwards and over-4-hour slots are refused', () => {
    expect(slotTimeProblems(at(HOUR), at(2 * HOUR), now)).toEqual([]);
    expect(slotTimeProblems(at(HOUR), at(5 * HOUR), now)).toEqual([]);
    expect(slotTimeProblems(now, at(HOUR), now).map((p) => p.path)).toEqual(['startAt']);
    expect(slotTimeProblems(at(HOUR), at(HOUR), now).map((p) => p.path)).toEqual(['endAt']);
    expect(slotTimeProblems(at(HOUR), at(5 * HOUR + 1), now).map((p) => p.path)).toEqual(['endAt']);
  });

  test('when the watchdog finds a stuck booking, then it asks again until the maximum, then rejects', () => {
    expect([1, 2, 3].map((n) => watchdogActionFor(n, 3))).toEqual(['re_requested', 're_requested', 'rejected']);
  });

  test('when Prefer carries wait=N, then N seconds up to 10, else 0', () => {
    expect(preferWaitSeconds('wait=2')).toBe(2);
    expect(preferWaitSeconds('respond-async, wait=5')).toBe(5);
    expect(preferWaitSeconds('wait=60')).toBe(10);
    expect(preferWaitSeconds('handling=lenient')).toBe(0);
    expect(preferWaitSeconds(undefined)).toBe(0);
    expect(preferWaitSeconds('await=3')).toBe(0);
  });

  test('when cursors and request hashes are made, then they round-trip and ignore key order', () => {
    const key = { at: now.toISOString(), id: '3f1d0c8e-8a64-4a57-9f7e-0d3c1f5b2a11' };
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    expect(() => decodeCursor('bm9wZQ')).toThrow(expect.objectContaining({ code: 'validation_failed', status: 400 }));
    expect(requestHash({ a: 1, b: 2 })).toBe(requestHash({ b: 2, a: 1 }));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });

  test('when the environment is empty, then the documented defaults apply', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      PORT: 8002,
      BOOKING_HOLD_MINUTES: 10,
      BOOKING_REFUND_WINDOW_HOURS: 24,
      BOOKING_MAX_ACTIVE_HOLDS: 3,
      BOOKING_CONFIRM_TIMEOUT_SECONDS: 30,
      BOOKING_CONFIRM_MAX_REQUESTS: 3,
    });
    expect(readConfig({ BOOKING_HOLD_MINUTES: '0.5' }).BOOKING_HOLD_MINUTES).toBe(0.5);
  });

  test('when a variable is bad, or production runs without a real role password, then start-up fails naming the variable', () => {
    expect(() => readConfig({ BOOKING_HOLD_MINUTES: 'ten' })).toThrow(/BOOKING_HOLD_MINUTES/);
    expect(() => readConfig({ BOOKING_MAX_ACTIVE_HOLDS: '0' })).toThrow(/BOOKING_MAX_ACTIVE_HOLDS/);
    expect(() => readConfig({ APP_ENV: 'production' })).toThrow(/DB_ROLE_PASSWORD/);
    expect(() => readConfig({ APP_ENV: 'production', DB_ROLE_PASSWORD: 'dev-booking-password' })).toThrow(/DB_ROLE_PASSWORD/);
    expect(readConfig({ APP_ENV: 'production', DB_ROLE_PASSWORD: 's3cure-and-long' }).APP_ENV).toBe('production');
  });
});
