import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { adminDb, createServiceDb, ensureDatabase, ensureServiceSchema, migrateService, type Migration } from '@guitaronline/platform';
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

/**
 * A private database with this service's schema for one test file. Two instances of a service
 * on one schema share its outbox, so either relay could publish the other's events to the other
 * suite's exchange; and this file's clock runs ahead and sweeps every row. Dropped by `drop()`.
 */
export async function isolatedDatabase(schema: string, migrations: Record<string, Migration>): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(testInfra().databaseUrl);
  const name = `guitaronline_test_${schema}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  await ensureDatabase(url.toString());
  const admin = adminDb(url.toString());
  try {
    await ensureServiceSchema(admin, schema);
  } finally {
    await admin.destroy();
  }
  const db = createServiceDb({ databaseUrl: url.toString(), schema, pool: { min: 0, max: 1 } });
  try {
    await migrateService(db, schema, migrations);
  } finally {
    await db.destroy();
  }
  return {
    url: url.toString(),
    async drop() {
      const server = adminDb(base.toString());
      try {
        await server.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await server.destroy();
      }
    },
  };
}
