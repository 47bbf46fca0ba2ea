import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { eventually, sleep } from '@guitaronline/testing';
import { BrokerConnection, EventConsumer, byPayloadField, changeWithFilledEvent, newEnvelopes, recordEvent, OutboxRelay, type ConsumerTuning, type EventHandlers } from '../src';
import { Registry } from 'prom-client';
import { messagingFixture, silentLogger } from './harness';

function envelope(overrides: Record<string, unknown> = {}) {
  const userId = randomUUID();
  return {
    id: randomUUID(),
    type: 'identity.user.registered',
    version: 1,
    occurredAt: new Date().toISOString(),
    source: 'identity',
    correlationId: randomUUID(),
    causationId: null,
    aggregateId: userId,
    payload: { userId, email: `${userId}@example.test`, role: 'student', fullName: 'Test User' },
    ...overrides,
  };
}

describe('inbox consumer', () => {
  let fx: Awaited<ReturnType<typeof messagingFixture>>;
  let publisher: ChannelModel;
  let connection: BrokerConnection;
  let consumer: EventConsumer | undefined;

  const publish = async (body: unknown, routingKey = 'identity.user.registered') => {
    const ch = await publisher.createConfirmChannel();
    await ch.assertExchange(fx.exchange, 'topic', { durable: true });
    ch.publish(fx.exchange, routingKey, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), { persistent: true });
    await ch.waitForConfirms();
    await ch.close();
  };

  const startConsumer = async (
    handlers: EventHandlers,
    options: { retryDelaysMs?: number[]; maxAttempts?: number; metrics?: Registry } & ConsumerTuning = {},
  ) => {
    consumer = new EventConsumer({
      service: fx.service,
      knex: fx.knex,
      connection,
      exchange: fx.exchange,
      handlers,
      logger: silentLogger,
      ...options,
      retryDelaysMs: options.retryDelaysMs ?? [200, 400],
    });
    await consumer.start();
  };

  const effects = () => fx.knex('effects').select('event_id', 'note').orderBy('id');

  // drained messages accumulate here: reading the DLQ takes them off it
  let parkedSoFar: { body: any; headers: Record<string, any> }[] = [];
  const parked = async () => {
    const ch = await publisher.createChannel();
    const out = parkedSoFar;
    for (;;) {
      const msg = await ch.get(`${fx.service}.events.dlq`, { noAck: true });
      if (!msg) break;
      const text = msg.content.toString();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text: a malformed message is parked as it came
      }
      out.push({ body, headers: msg.properties.headers ?? {} });
    }
    await ch.close();
    return out;
  };

  beforeEach(async () => {
    parkedSoFar = [];
    fx = await messagingFixture();
    publisher = await amqp.connect(fx.amqpUrl);
    connection = new BrokerConnection({ url: fx.amqpUrl, name: 'consumer-test', logger: silentLogger, initialDelayMs: 50 });
    await connection.start();
  });

  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    const ch = await publisher.createChannel();
    for (const q of ['events', 'events.retry.1', 'events.retry.2', 'events.retry.3', 'events.dlq']) await ch.deleteQueue(`${fx.service}.${q}`);
    await ch.deleteExchange(fx.exchange);
    await publisher.close();
    await connection.stop();
    await fx.cleanup();
  });

  test('when the same message is delivered twice, the handler has one effect', async () => {
    await startConsumer({
      'identity.user.registered': async (trx, event) => {
        await trx('effects').insert({ event_id: event.id, note: event.payload.email });
      },
    });
    const msg = envelope();
    await publish(msg);
    await publish(msg);
    await eventually(async () => (await fx.knex('inbox').where({ message_id: msg.id })).length === 1);
    await sleep(300);
    expect(await effects()).toEqual([{ event_id: msg.id, note: (msg.payload as { email: string }).email }]);
  });

  test('when an event has a fast path, one statement writes its change, its event and its inbox row; a redelivery fails that statement whole and is a duplicate; a fast path that changes nothing hands the event to its handler', async () => {
    const metrics = new Registry();
    await startConsumer(
      {
        'identity.user.registered': async (trx, event) => {
          await trx('effects').insert({ event_id: event.id, note: 'handler' });
        },
      },
      {
        metrics,
        fastPaths: {
          'identity.user.registered': async (event, inbox) => {
            if (event.payload.role === 'teacher') return false; // not its usual case
            const [announced] = newEnvelopes([{ type: 'identity.user.registered', payload: event.payload, aggregateId: event.aggregateId }]);
            const change = fx.knex('effects').insert({ event_id: event.id, note: 'fast' }).returning('*');
            const changed = await changeWithFilledEvent(fx.knex, change, announced!, { email: `'fast-' || changed.event_id` }, { inbox });
            return changed !== undefined;
          },
        },
      },
    );
    const student = envelope();
    const teacher = envelope({ payload: { ...envelope().payload, role: 'teacher' } });
    await publish(student);
    await eventually(async () => (await effects()).length === 1);
    await publish(student); // its fast path inserts again — and fails on the inbox row, rolling its effect back
    await publish(teacher);
    await eventually(async () => (await fx.knex('inbox').whereIn('message_id', [student.id, teacher.id])).length === 2);
    await sleep(300);
    expect(await effects()).toEqual([
      { event_id: student.id, note: 'fast' },
      { event_id: teacher.id, note: 'handler' },
    ]);
    // the event the fast path recorded, once, filled in from its change
    const outbox = await fx.knex('outbox').select('envelope');
    expect(outbox.map((r) => r.envelope.payload.email)).toEqual([`fast-${student.id}`]);
    const consumed = (await metrics.getSingleMetric('events_consumed_total')!.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(consumed.sort()).toEqual([
      ['duplicate', 1],
      ['processed', 2],
    ]);
  });

  test('when events share a serializeBy key, their handlers run one at a time; other keys run alongside; a duplicate still has one effect', async () => {
    const runs: { role: string; start: number; end: number }[] = [];
    await startConsumer(
      {
        'identity.user.registered': async (trx, event) => {
          const start = Date.now();
          await trx('effects').insert({ event_id: event.id, note: event.payload.role });
          await sleep(150);
          runs.push({ role: event.payload.role, start, end: Date.now() });
        },
      },
      { serializeBy: byPayloadField('role') },
    );
    const withRole = (role: string) => {
      const msg = envelope();
      return { ...msg, payload: { ...msg.payload, role } };
    };
    const students = [withRole('student'), withRole('student'), withRole('student')];
    const teachers = [withRole('teacher'), withRole('teacher')];
    await Promise.all([...students, ...teachers, students[0]].map((m) => publish(m)));
    await eventually(async () => runs.length === 5, { timeoutMs: 10_000 });
    await sleep(300);
    expect(runs).toHaveLength(5);
    expect((await effects()).map((e) => e.event_id).sort()).toEqual([...students, ...teachers].map((m) => m.id).sort());
    const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;
    for (const role of ['student', 'teacher']) {
      const same = runs.filter((r) => r.role === role);
      for (let i = 0; i < same.length; i += 1) for (let j = i + 1; j < same.length; j += 1) expect(overlap(same[i], same[j])).toBe(false);
    }
    const across = runs.filter((r) => r.role === 'student').some((a) => runs.filter((r) => r.role === 'teacher').some((b) => overlap(a, b)));
    expect(across).toBe(true);
  });

  test('when a consumer batches, then a burst commits in a few transactions with one effect per message, duplicates included; a failing message falls back to its own retries and parking', async () => {
    let begins = 0;
    const countBegins = (q: { sql: string }) => {
      if (/^begin/i.test(q.sql)) begins += 1;
    };
    fx.knex.on('query', countBegins);
    await startConsumer(
      {
        'identity.user.registered': async (trx, event) => {
          if (event.payload.fullName === 'Poison') throw new Error('cannot take this one');
          await trx('effects').insert({ event_id: event.id, note: event.payload.email });
        },
      },
      { batch: 50 },
    );
    const burst = Array.from({ length: 30 }, () => envelope());
    await Promise.all([...burst, burst[0]!, burst[1]!].map((m) => publish(m)));
    await eventually(async () => (await effects()).length === 30);
    expect(begins).toBeLessThan(30);
    expect(begins).toBeGreaterThan(0);

    const poison = envelope();
    const poisoned = { ...poison, payload: { ...poison.payload, fullName: 'Poison' } };
    const after = Array.from({ length: 5 }, () => envelope());
    await Promise.all([poisoned, ...after].map((m) => publish(m)));
    await eventually(async () => (await effects()).length === 35);
    const dlq = await eventually(async () => {
      const list = await parked();
      return list.length === 1 ? list : undefined;
    });
    expect(dlq[0]!.body.id).toBe(poisoned.id);
    expect(dlq[0]!.headers['x-attempts']).toBe(3);
    expect(String(dlq[0]!.headers['x-error'])).toContain('cannot take this one');
    const ids = (await effects()).map((e) => e.event_id);
    expect(new Set(ids).size).toBe(35);
    expect(ids.sort()).toEqual([...burst, ...after].map((m) => m.id).sort());
    fx.knex.off('query', countBegins);
  });

  test('when a batching consumer lingers, then a trickle of events is handled in a few batch-handler calls, each event once, in delivery order', async () => {
    const batches: string[][] = [];
    const metrics = new Registry();
    const handleOne = async (trx: Parameters<NonNullable<ConsumerTuning['handleBatch']>>[0], id: string, note: string) => {
      await trx('effects').insert({ event_id: id, note });
    };
    await startConsumer(
      { 'identity.user.registered': (trx, event) => handleOne(trx, event.id, 'single') },
      {
        metrics,
        batch: 50,
        batchLingerMs: 150,
        handleBatch: async (trx, events) => {
          batches.push(events.map((e) => e.id));
          for (const e of events) await handleOne(trx, e.id, 'batch');
        },
      },
    );
    const trickle = Array.from({ length: 10 }, () => envelope());
    // one at a time, each confirmed before the next: without the linger each would be its own transaction
    for (const [i, m] of trickle.entries()) {
      await publish(m);
      if (i === 4) await publish(trickle[0]!);
      await sleep(5);
    }
    await eventually(async () => (await effects()).length === 10);
    await sleep(300);
    const done = await effects();
    expect(done.map((e) => e.event_id)).toEqual(trickle.map((m) => m.id));
    const singles = done.filter((e) => e.note === 'single').length;
    expect(batches.length + singles).toBeLessThanOrEqual(4);
    expect(batches.flat()).toEqual(done.filter((e) => e.note === 'batch').map((e) => e.event_id));
    // the batch sizes are in /metrics: all 11 messages delivered (the duplicate too), in a few transactions
    const sizes = (await metrics.getSingleMetric('event_batch_size')!.get()).values as { metricName?: string; value: number }[];
    expect(sizes.find((v) => v.metricName === 'event_batch_size_sum')!.value).toBe(11);
    expect(sizes.find((v) => v.metricName === 'event_batch_size_count')!.value).toBeLessThanOrEqual(4);
  });

  test('when a handled type is not in the bindings, its events do not arrive until bind() binds it and stop after unbind(); bind() refuses a type without a handler', async () => {
    await startConsumer(
      {
        'identity.user.registered': async (trx, event) => {
          await trx('effects').insert({ event_id: event.id, note: 'handled' });
        },
      },
      { bindings: [] },
    );
    const before = envelope();
    await publish(before);
    await sleep(400);
    expect(await effects()).toEqual([]);

    await consumer!.bind(['identity.user.registered']);
    const after = envelope();
    await publish(after);
    await eventually(async () => (await effects()).length === 1);
    expect(await effects()).toEqual([{ event_id: after.id, note: 'handled' }]);
    await expect(consumer!.bind(['booking.held'])).rejects.toThrow(/no handler for booking.held/);

    await consumer!.unbind(['identity.user.registered', 'booking.held']); // the second was never bound: fine
    const unbound = envelope();
    await publish(unbound);
    await sleep(400);
    expect((await effects()).map((e) => e.event_id)).toEqual([after.id]);
  });

  test('when a message fails its schema, it is parked at once with the reason and the queue keeps flowing', async () => {
    await startConsumer({
      'identity.user.registered': async (trx, event) => {
        await trx('effects').insert({ event_id: event.id });
      },
    });
    const poison = envelope({ payload: { userId: 'not-a-uuid' } });
    const unknownVersion = envelope({ version: 99 });
    await publish(poison);
    await publish('{not json');
    await publish(unknownVersion);
    const good = envelope();
    await publish(good);
    await eventually(async () => (await effects()).length === 1);
    const dlq = await eventually(async () => {
      const list = await parked();
      return list.length === 3 ? list : undefined;
    });
    const reasons = dlq.map((m) => String(m.headers['x-error']));
    expect(reasons.some((r) => r.includes('invalid payload for identity.user.registered'))).toBe(true);
    expect(reasons.some((r) => r.includes('malformed message'))).toBe(true);
    expect(reasons.some((r) => r.includes('unsupported version 99'))).toBe(true);
    expect(dlq.every((m) => m.headers['x-attempts'] === 1)).toBe(true);
    expect((await effects()).map((e) => e.event_id)).toEqual([good.id]);
  });

  test('when a handler keeps failing, it is retried with growing delays and then parked with its error', async () => {
    const attempts: number[] = [];
    await startConsumer(
      {
        'identity.user.registered': async () => {
          attempts.push(Date.now());
          throw new Error('database is on fire');
        },
      },
      { retryDelaysMs: [150, 600], maxAttempts: 3 },
    );
    const msg = envelope();
    await publish(msg);
    const dlq = await eventually(
      async () => {
        const list = await parked();
        return list.length === 1 ? list : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(attempts).toHaveLength(3);
    const firstGap = attempts[1] - attempts[0];
    const secondGap = attempts[2] - attempts[1];
    expect(firstGap).toBeGreaterThanOrEqual(120);
    expect(secondGap).toBeGreaterThanOrEqual(500);
    expect(secondGap).toBeGreaterThan(firstGap);
    expect(dlq[0].body.id).toBe(msg.id);
    expect(dlq[0].headers['x-error']).toBe('database is on fire');
    expect(dlq[0].headers['x-attempts']).toBe(3);
    expect(dlq[0].headers['x-source-queue']).toBe(`${fx.service}.events`);
    // nothing of the failed attempts was kept: the inbox row rolled back with the handler
    expect(await fx.knex('inbox').where({ message_id: msg.id })).toHaveLength(0);
  });

  test('when a handler fails once and then succeeds, it has exactly one effect', async () => {
    let calls = 0;
    await startConsumer({
      'identity.user.registered': async (trx, event) => {
        calls += 1;
        await trx('effects').insert({ event_id: event.id, note: `call ${calls}` });
        if (calls === 1) throw new Error('transient');
      },
    });
    const msg = envelope();
    await publish(msg);
    await eventually(async () => (await effects()).length === 1, { timeoutMs: 5_000 });
    await sleep(300);
    expect(calls).toBe(2);
    expect(await effects()).toEqual([{ event_id: msg.id, note: 'call 2' }]);
    expect(await parked()).toHaveLength(0);
  });

  test('when a handler records an event, it carries the correlation id and names its cause', async () => {
    const relayConnection = connection;
    const relay = new OutboxRelay({ service: fx.service, knex: fx.knex, connection: relayConnection, exchange: fx.exchange, logger: silentLogger });
    await startConsumer({
      'identity.user.registered': async (trx, event) => {
        await recordEvent(trx, {
          type: 'identity.teacher.profile_updated',
          aggregateId: event.payload.userId,
          payload: { teacherId: event.payload.userId, displayName: 'T', timezone: 'UTC' },
        });
      },
    });
    const msg = envelope();
    await publish(msg);
    const row = await eventually(async () => fx.knex('outbox').where({ type: 'identity.teacher.profile_updated' }).first());
    expect(row.envelope.correlationId).toBe(msg.correlationId);
    expect(row.envelope.causationId).toBe(msg.id);
    await relay.stop();
  });

  test('when the broker connection drops, the consumer reattaches and processes what arrives next', async () => {
    await startConsumer({
      'identity.user.registered': async (trx, event) => {
        await trx('effects').insert({ event_id: event.id });
      },
    });
    const first = envelope();
    await publish(first);
    await eventually(async () => (await effects()).length === 1);
    (connection.current as unknown as { connection: { stream: { destroy(err: Error): void } } }).connection.stream.destroy(new Error('simulated network failure'));
    const second = envelope();
    await publish(second);
    await eventually(async () => (await effects()).length === 2, { timeoutMs: 10_000 });
    expect((await effects()).map((e) => e.event_id).sort()).toEqual([first.id, second.id].sort());
  });
});
