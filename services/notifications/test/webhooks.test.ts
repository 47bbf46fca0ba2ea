import { createHmac, randomUUID } from 'node:crypto';
import { deleteBus, eventually, sleep, startTestIssuer, testInfra, type TestIssuer } from '@guitaronline/testing';
import { bookingConfirmed, freshDatabase, makeEvent, registered, setup, startReceiver, type Fixture, type TestDatabase } from './harness';

jest.setTimeout(60_000);

let issuer: TestIssuer;
let database: TestDatabase;
let admin: string;
beforeAll(async () => {
  issuer = await startTestIssuer();
  database = await freshDatabase();
  admin = issuer.token({ role: 'admin' });
});
afterAll(async () => {
  await issuer.close();
  await database?.drop();
});

let fx: Fixture;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  await fx?.cleanup();
});

async function call(method: string, path: string, body?: unknown, token = admin) {
  const res = await fetch(`${fx.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, type: res.headers.get('content-type') };
}

async function subscribe(url: string, events: string[]) {
  const res = await call('POST', '/api/v1/notifications/webhooks', { url, events, description: 'test hook' });
  expect(res.status).toBe(201);
  return res.body as { id: string; url: string; events: string[]; secret: string; createdAt: string };
}

function expectedSignature(secret: string, timestamp: string, body: string) {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

describe('webhooks', () => {
  test('when an admin subscribes a URL, then events of its types arrive signed with a signature that verifies', async () => {
    fx = await setup(issuer, database);
    receiver = await startReceiver();
    const sub = await subscribe(receiver.url, ['booking.confirmed', 'booking.canceled']);
    expect(sub).toEqual({ id: expect.any(String), url: receiver.url, events: ['booking.confirmed', 'booking.canceled'], description: 'test hook', secret: expect.stringMatching(/^whsec_/), createdAt: expect.any(String) });
    const listed = await call('GET', '/api/v1/notifications/webhooks');
    expect(listed.body.items).toEqual([{ id: sub.id, url: receiver.url, events: sub.events, description: 'test hook', createdAt: sub.createdAt }]);
    expect(JSON.stringify(listed.body)).not.toContain(sub.secret);

    const confirmed = bookingConfirmed(randomUUID(), randomUUID());
    const notSubscribed = registered('student');
    await fx.publisher.publish(confirmed, notSubscribed, confirmed);
    await eventually(() => receiver!.received.length === 1);
    await sleep(400);
    expect(receiver.received).toHaveLength(1); // the duplicate and the unsubscribed type send nothing

    const hook = receiver.received[0];
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['x-guitaronline-event']).toBe('booking.confirmed');
    const deliveryId = hook.headers['x-guitaronline-delivery'] as string;
    expect(deliveryId).toMatch(/^[0-9a-f-]{36}$/);
    const timestamp = hook.headers['x-guitaronline-timestamp'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(30);
    expect(hook.headers['x-guitaronline-signature']).toBe(expectedSignature(sub.secret, timestamp, hook.body));
    expect(hook.headers['x-guitaronline-signature']).not.toBe(expectedSignature('another-secret', timestamp, hook.body));
    expect(JSON.parse(hook.body)).toEqual({ id: confirmed.id, type: 'booking.confirmed', occurredAt: new Date(confirmed.occurredAt).toISOString(), data: confirmed.payload });

    const row = await fx.db('deliveries').where({ id: deliveryId }).first();
    expect(row).toMatchObject({ channel: 'webhook', subscription_id: sub.id, status: 'sent', attempts: 1 });
    const metrics = await call('GET', '/api/v1/notifications/delivery/metrics');
    expect(metrics.body.byChannel.webhook).toMatchObject({ sent: 1, total: 1 });
  });

  test('when a subscription names a type that e-mails nobody, then the queue is bound to it as the subscription is made, and by a replica that starts later', async () => {
    fx = await setup(issuer, database);
    receiver = await startReceiver();
    const debited = () => makeEvent('billing.lesson.debited', { bookingId: randomUUID(), packageId: randomUUID(), lessonsLeft: 3 });
    const early = debited();
    await fx.publisher.publish(early);
    await sleep(400);
    // not bound yet: the event never reached the service (no inbox row, no delivery)
    expect(await fx.db('inbox').where({ message_id: early.id })).toHaveLength(0);

    await subscribe(receiver.url, ['billing.lesson.debited']);
    const late = debited();
    await fx.publisher.publish(late);
    await eventually(() => receiver!.received.length === 1);
    expect(JSON.parse(receiver.received[0].body).id).toBe(late.id);

    // a replica on a queue of its own binds, at start, the types the live subscriptions name
    await fx.service!.stop();
    const replicaBus = { ...fx.bus, EVENTS_QUEUE_PREFIX: `${fx.bus.EVENTS_QUEUE_PREFIX}replica.` };
    try {
      await fx.startService({ EVENTS_QUEUE_PREFIX: replicaBus.EVENTS_QUEUE_PREFIX });
      const third = debited();
      await fx.publisher.publish(third);
      await eventually(() => receiver!.received.length === 2);
      expect(JSON.parse(receiver.received[1].body).id).toBe(third.id);
    } finally {
      await fx.service!.stop();
      await deleteBus(replicaBus, ['notifications']);
    }
  });

  test('when the last subscription naming a type is deleted, then the type is unbound; at start, bindings beyond what is needed are removed', async () => {
    fx = await setup(issuer, database);
    receiver = await startReceiver();
    const debited = () => makeEvent('billing.lesson.debited', { bookingId: randomUUID(), packageId: randomUUID(), lessonsLeft: 3 });
    const reached = async (id: string) => (await fx.db('inbox').where({ message_id: id })).length === 1;

    const first = await subscribe(receiver.url, ['billing.lesson.debited', 'booking.confirmed']);
    const second = await subscribe(receiver.url, ['billing.lesson.debited']);
    expect((await call('DELETE', `/api/v1/notifications/webhooks/${first.id}`)).status).toBe(204);
    const whileNamed = debited();
    await fx.publisher.publish(whileNamed);
    await eventually(() => reached(whileNamed.id)); // the second subscription still names it

    expect((await call('DELETE', `/api/v1/notifications/webhooks/${second.id}`)).status).toBe(204);
    const afterLast = debited();
    const notifying = bookingConfirmed(randomUUID(), randomUUID());
    await fx.publisher.publish(afterLast, notifying);
    await eventually(() => reached(notifying.id)); // a type that e-mails people stays bound
    await sleep(300);
    expect(await reached(afterLast.id)).toBe(false);

    // a queue an earlier version bound to more types: the next start unbinds them
    await fx.service!.stop();
    const ch = await (await import('amqplib')).connect(testInfra().amqpUrl);
    const channel = await ch.createChannel();
    await channel.bindQueue(`${fx.bus.EVENTS_QUEUE_PREFIX}notifications.events`, fx.bus.EVENTS_EXCHANGE, 'billing.lesson.debited');
    await ch.close();
    await fx.startService();
    await eventually(async () => {
      const probe = debited();
      const marker = bookingConfirmed(randomUUID(), randomUUID());
      await fx.publisher.publish(probe, marker);
      await eventually(() => reached(marker.id));
      return !(await reached(probe.id));
    });
  });

  test('when private targets are not allowed, then subscribing a private, loopback or link-local URL answers 400 naming the url, and stores nothing', async () => {
    fx = await setup(issuer, database, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
    for (const url of ['http://127.0.0.1:9000/hook', 'http://localhost/hook', 'http://10.0.0.7/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/hook']) {
      const res = await call('POST', '/api/v1/notifications/webhooks', { url, events: ['booking.confirmed'] });
      expect(res.status).toBe(400);
      expect(res.type).toContain('application/problem+json');
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors).toEqual([{ path: 'url', message: expect.stringContaining('not a public internet address') }]);
    }
    expect(await fx.db('webhook_subscriptions')).toEqual([]);
    // a public address is taken (nothing is sent until an event comes)
    const res = await call('POST', '/api/v1/notifications/webhooks', { url: 'https://93.184.215.14/hook', events: ['booking.confirmed'] });
    expect(res.status).toBe(201);
  });

  test('when the event bus is unreachable, then subscribing answers 503 problem+json and stores nothing', async () => {
    fx = await setup(issuer, database);
    await fx.service!.messaging.connection.stop();
    const res = await call('POST', '/api/v1/notifications/webhooks', { url: 'https://example.test/hook', events: ['billing.lesson.debited'] });
    expect(res.status).toBe(503);
    expect(res.type).toContain('application/problem+json');
    expect(res.body.code).toBe('service_unavailable');
    expect(await fx.db('webhook_subscriptions')).toEqual([]);
  });

  test('when the receiver answers 500, then the delivery is retried with the same delivery id until it succeeds', async () => {
    fx = await setup(issuer, database);
    receiver = await startReceiver((n) => (n <= 2 ? 500 : 204));
    const sub = await subscribe(receiver.url, ['lesson.completed']);
    const completed = makeEvent('lesson.completed', { lessonId: randomUUID(), bookingId: randomUUID(), studentId: randomUUID(), teacherId: randomUUID(), startAt: new Date().toISOString() });
    await fx.publisher.publish(completed);

    await eventually(async () => (await fx.db('deliveries').where({ subscription_id: sub.id }).first())?.status === 'sent', { timeoutMs: 15_000 });
    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((r) => r.headers['x-guitaronline-delivery']));
    expect(ids.size).toBe(1);
    for (const r of receiver.received) {
      expect(r.headers['x-guitaronline-signature']).toBe(expectedSignature(sub.secret, r.headers['x-guitaronline-timestamp'] as string, r.body));
    }
    const row = await fx.db('deliveries').where({ subscription_id: sub.id }).first();
    expect(row.attempts).toBe(3);
    const log = await fx.db('delivery_attempts').where({ delivery_id: row.id }).orderBy('attempt');
    expect(log.map((a) => [a.outcome, a.error])).toEqual([
      ['failed', expect.stringContaining('HTTP 500')],
      ['failed', expect.stringContaining('HTTP 500')],
      ['sent', null],
    ]);
  });

  test('when the receiver does not answer within WEBHOOK_TIMEOUT_MS, then the try counts as failed and is retried', async () => {
    fx = await setup(issuer, database, { WEBHOOK_TIMEOUT_MS: '300' });
    receiver = await startReceiver((n) => (n === 1 ? 'hang' : 200));
    const sub = await subscribe(receiver.url, ['booking.expired']);
    await fx.publisher.publish(makeEvent('booking.expired', { bookingId: randomUUID(), slotId: randomUUID() }));
    await eventually(async () => (await fx.db('deliveries').where({ subscription_id: sub.id }).first())?.status === 'sent', { timeoutMs: 15_000 });
    const row = await fx.db('deliveries').where({ subscription_id: sub.id }).first();
    expect(row.attempts).toBe(2);
    const [first] = await fx.db('delivery_attempts').where({ delivery_id: row.id }).orderBy('attempt');
    expect(first.error).toMatch(/timeout|aborted/i);
  });

  test('when a subscription is deleted, then it receives nothing more and its pending deliveries are canceled', async () => {
    fx = await setup(issuer, database, { NOTIFY_BACKOFF_BASE_MS: '200' });
    receiver = await startReceiver(() => 503);
    const doomed = await subscribe(receiver.url, ['booking.rejected']);
    const other = await startReceiver();
    try {
      const kept = await subscribe(other.url, ['booking.rejected']);
      await fx.publisher.publish(makeEvent('booking.rejected', { bookingId: randomUUID(), reason: 'insufficient_lessons' }));
      await eventually(async () => (await fx.db('deliveries').where({ subscription_id: doomed.id }).first())?.attempts >= 1);

      const del = await call('DELETE', `/api/v1/notifications/webhooks/${doomed.id}`);
      expect(del.status).toBe(204);
      const row = await fx.db('deliveries').where({ subscription_id: doomed.id }).first();
      expect(row.status).toBe('canceled');
      const seen = receiver.received.length;

      await fx.publisher.publish(makeEvent('booking.rejected', { bookingId: randomUUID(), reason: 'no_active_package' }));
      await eventually(() => other.received.length === 2);
      await sleep(800); // several backoff periods of the canceled delivery
      expect(receiver.received.length).toBe(seen);
      expect(await fx.db('deliveries').where({ subscription_id: doomed.id })).toHaveLength(1);

      const listed = await call('GET', '/api/v1/notifications/webhooks');
      expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([kept.id]);
      expect((await call('DELETE', `/api/v1/notifications/webhooks/${doomed.id}`)).status).toBe(404);
      const metrics = await call('GET', '/api/v1/notifications/delivery/metrics');
      expect(metrics.body.byChannel.webhook).toMatchObject({ canceled: 1, sent: 2, pending: 0, total: 3 });
    } finally {
      await other.close();
    }
  });
});
