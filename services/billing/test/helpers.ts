import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { testInfra } from '@guitaronline/testing';

/** A clock the test moves by hand (time rules are tested without sleeping). */
export function manualClock(start = new Date()) {
  let now = start.getTime();
  const clock = () => new Date(now);
  return Object.assign(clock, {
    set(date: Date) {
      now = date.getTime();
    },
    advance(ms: number) {
      now += ms;
    },
  });
}

/** Publishes envelopes as booking would (routing key = type), so the service is proven against the real broker. */
export async function bookingPublisher(exchange: string) {
  const connection = await amqp.connect(testInfra().amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  return {
    async publish(type: string, payload: Record<string, unknown>, options: { id?: string; aggregateId?: string } = {}) {
      const envelope = {
        id: options.id ?? randomUUID(),
        type,
        version: 1,
        occurredAt: new Date().toISOString(),
        source: 'booking',
        correlationId: randomUUID(),
        causationId: null,
        aggregateId: options.aggregateId ?? String(payload.bookingId ?? randomUUID()),
        payload,
      };
      channel.publish(exchange, type, Buffer.from(JSON.stringify(envelope)), {
        persistent: true,
        contentType: 'application/json',
        messageId: envelope.id,
        type,
        correlationId: envelope.correlationId,
      });
      await channel.waitForConfirms();
      return envelope;
    },
    async close() {
      await connection.close().catch(() => undefined);
    },
  };
}

export async function http(base: string, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body) });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** Messages ready in a queue (e.g. a service's dead-letter queue). */
export async function queueDepth(queue: string): Promise<number> {
  const connection = await amqp.connect(testInfra().amqpUrl);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
