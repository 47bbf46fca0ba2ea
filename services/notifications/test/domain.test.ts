import { randomUUID } from 'node:crypto';
import { backoffDelayMs } from '../src/domain/backoff';
import { renderEmail } from '../src/domain/email-templates';
import { recipientsOf } from '../src/domain/recipients';
import { signWebhook, verifyWebhookSignature, webhookBody } from '../src/domain/webhook-signature';
import { readConfig } from '../src/config';
import { makeEvent } from './harness';

describe('delivery rules', () => {
  test('when attempts fail one after another, then the backoff delay doubles within its jitter band and stops at the cap', () => {
    const policy = { baseMs: 1000, maxMs: 10_000 };
    expect(backoffDelayMs(1, policy, () => 0)).toBe(500);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(2000);
    expect(backoffDelayMs(3, policy, () => 1)).toBe(4000);
    expect(backoffDelayMs(10, policy, () => 1)).toBe(10_000);
    expect(backoffDelayMs(60, policy, () => 0)).toBe(5000);
    // with any randomness the schedule of one delivery never shrinks below the cap (1, 2, 4, 8 s steps)
    for (let run = 0; run < 200; run += 1) {
      let previous = 0;
      for (let n = 1; n <= 4; n += 1) {
        const d = backoffDelayMs(n, policy);
        expect(d).toBeGreaterThanOrEqual(previous);
        previous = d;
      }
      // at the cap every delay lies in [cap/2, cap]
      const capped = backoffDelayMs(20, policy);
      expect(capped).toBeGreaterThanOrEqual(5000);
      expect(capped).toBeLessThanOrEqual(10_000);
    }
  });

  test('when an event names its people, then those and only those are recipients', () => {
    const studentId = randomUUID();
    const teacherId = randomUUID();
    const lesson = makeEvent('lesson.canceled', { lessonId: randomUUID(), bookingId: randomUUID(), studentId, teacherId, startAt: new Date().toISOString() });
    expect(recipientsOf(lesson).sort()).toEqual([studentId, teacherId].sort());
    const rejected = makeEvent('booking.rejected', { bookingId: randomUUID(), reason: 'no_active_package', studentId });
    expect(recipientsOf(rejected)).toEqual([studentId]);
    const bare = makeEvent('booking.expired', { bookingId: randomUUID(), slotId: randomUUID() });
    expect(recipientsOf(bare)).toEqual([]);
    const payment = makeEvent('billing.payment.status_changed', { paymentId: randomUUID(), packageId: randomUUID(), studentId, amountCents: 100, currency: 'EUR', from: 'pending', to: 'succeeded' });
    expect(recipientsOf(payment)).toEqual([studentId]);
    expect(recipientsOf(makeEvent('booking.slot.created', { slotId: randomUUID(), teacherId, startAt: new Date().toISOString(), endAt: new Date().toISOString() }))).toEqual([]);
  });

  test('when a cancel is rendered, then the student reads the refund rule and the teacher does not', () => {
    const studentId = randomUUID();
    const teacherId = randomUUID();
    const canceled = makeEvent('booking.canceled', { bookingId: randomUUID(), wasConfirmed: true, refundable: false, canceledBy: 'student', studentId, teacherId, startAt: '2030-01-02T10:00:00.000Z' });
    const forStudent = renderEmail(canceled, { userId: studentId, fullName: 'Ann' });
    expect(forStudent.subject).toBe('GuitarOnline: booking canceled');
    expect(forStudent.text).toContain('Hello Ann,');
    expect(forStudent.text).toContain('2030-01-02 10:00 UTC');
    expect(forStudent.text).toContain('not refunded');
    expect(renderEmail(canceled, { userId: teacherId }).text).not.toContain('refunded');
  });

  test('when a webhook body is signed, then only the same secret, timestamp and body verify', () => {
    const body = webhookBody({ eventId: randomUUID(), eventType: 'booking.held', occurredAt: new Date().toISOString(), data: { a: 1 } });
    const sig = signWebhook('s3cret', '1700000000', body);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('s3cret', '1700000000', body, sig)).toBe(true);
    expect(verifyWebhookSignature('other', '1700000000', body, sig)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '1700000001', body, sig)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '1700000000', `${body} `, sig)).toBe(false);
  });

  test('when the configuration is bad, then start-up names the variable', () => {
    expect(() => readConfig({ SMTP_URL: 'http://mail' })).toThrow(/SMTP_URL/);
    expect(() => readConfig({ NOTIFY_MAX_ATTEMPTS: '0' })).toThrow(/NOTIFY_MAX_ATTEMPTS/);
    expect(() => readConfig({ NOTIFY_BACKOFF_BASE_MS: '5000', NOTIFY_BACKOFF_MAX_MS: '1000' })).toThrow(/NOTIFY_BACKOFF_MAX_MS/);
    expect(() => readConfig({ APP_ENV: 'production' })).toThrow(/DB_ROLE_PASSWORD/);
    const defaults = readConfig({});
    expect(defaults).toMatchObject({ PORT: 8005, SMTP_URL: 'smtp://127.0.0.1:1025', NOTIFY_MAX_ATTEMPTS: 8, NOTIFY_BACKOFF_BASE_MS: 1000, WEBHOOK_TIMEOUT_MS: 5000 });
  });
});
