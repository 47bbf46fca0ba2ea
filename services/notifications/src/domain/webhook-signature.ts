import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new signing secret for a subscription (32 random bytes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** API.md: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the subscription's secret. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (used by tests and documented for integrators). */
export function verifyWebhookSignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The body of a webhook delivery: `{id, type, occurredAt, data}` (id = the event id). */
export function webhookBody(event: { eventId: string; eventType: string; occurredAt: string; data: unknown }): string {
  return JSON.stringify({ id: event.eventId, type: event.eventType, occurredAt: event.occurredAt, data: event.data });
}
