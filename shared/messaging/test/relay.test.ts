import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { captureMessages, eventually, sleep } from '@guitaronline/testing';
import type { Knex } from 'knex';
import type { DomainEvent } from '@guitaronline/contracts';
import { BrokerConnection, OutboxRelay, announceCommitted, changeWithEvents, changeWithFilledEvent, isoTimestampSql, newEnvelopes, recordEvent } from '../src';
import { messagingFixture, silentLogger } from './harness';

const registered = (userId = randomUUID()) => ({
  type: 'identity.user.registered' as const,
  aggregateId: userId,
  payload: { userId, email: `${userId}@example.test`, role: 'student' as const, fullName: 'Test User' },
});

describe('outbox relay', () => {
  let fx: Awaited<ReturnType<typeof messagingFixture>>;
  beforeEach(async () => {
    fx = await messagingFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  /** A capture of the exchange, a broker connection and a relay over the fixture's outbox; `stop` ends all three. */
  const startRelay = async (name: string, options: { pollIntervalMs: number; initialDelayMs?: number }) => {
    const capture = await captureMessages(fx.exchange);
    const connection = new BrokerConnection({ url: fx.amqpUrl, name, logger: silentLogger, initialDelayMs: options.initialDelayMs });
    await connection.start();
    const relay = new OutboxRelay({ service: 'identity', knex: fx.knex, connection, exchange: fx.exchange, logger: silentLogger, pollIntervalMs: options.pollIntervalMs });
    relay.start();
    const stop = async () => {
      await relay.stop();
      await connection.stop();
      await capture.close();
    };
    return { capture, connection, stop };
  };

  test('when three relays race over one outbox, each committed event (fresh or left behind by a dead writer) is published exactly once and a rolled-back one never', async () => {
    const capture = await captureMessages(fx.exchange);
    const connections = [0, 1, 2].map((i) => new BrokerConnection({ url: fx.amqpUrl, name: `relay-${i}`, logger: silentLogger }));
    await Promise.all(connections.map((c) => c.start()));
    const relays = connections.map(
      (connection) => new OutboxRelay({ service: 'identity', knex: fx.knex, connection, exchange: fx.exchange, logger: silentLogger, batchSize: 25, pollIntervalMs: 20 }),
    );
    try {
      // rows a crashed replica left behind: no process will hand them over, only the poll finds them
      const orphans = Array.from({ length: 60 }, () => {
        const e = registered();
        const id = randomUUID();
        const envelope = { id, type: e.type, version: 1, occurredAt: new Date().toISOString(), source: 'identity', correlationId: randomUUID(), causationId: null, aggregateId: e.aggregateId, payload: e.payload };
        return { id, type: e.type, aggregate_id: e.aggregateId, envelope, created_at: fx.knex.raw("now() - interval '1 hour'") };
      });
      await fx.knex('outbox').insert(orphans);
      relays.forEach((r) => r.start());
      const committed: string[] = orphans.map((o) => o.id);
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          for (let i = 0; i < 30; i += 1) {
            const ev = await fx.knex.transaction((trx) => recordEvent(trx, registered()));
            committed.push(ev.id);
          }
        }),
      );
      let rolledBackId = '';
      await fx.knex
        .transaction(async (trx) => {
          rolledBackId = (await recordEvent(trx, registered())).id;
          throw new Error('roll back');
        })
        .catch(() => undefined);

      await eventually(() => capture.messages.length >= committed.length, { timeoutMs: 15_000 });
      await sleep(300); // give a duplicate the chance to show up
      const ids = capture.messages.map((m) => m.body.id);
      expect(ids).toHaveLength(committed.length);
      expect(new Set(ids).size).toBe(committed.length);
      expect(new Set(ids)).toEqual(new Set(committed));
      expect(ids).not.toContain(rolledBackId);
      const pending = await fx.knex('outbox').whereNull('published_at').count<{ count: string }[]>('* as count');
      expect(Number(pending[0].count)).toBe(0);
      const first = capture.messages[0];
      expect(first.routingKey).toBe('identity.user.registered');
      expect(first.properties.messageId).toBe(first.body.id);
      expect(first.properties.correlationId).toBe(first.body.correlationId);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await Promise.all(connections.map((c) => c.stop()));
      await capture.close();
    }
  });

  test('when a statement writes outbox rows itself and announces them, the relay publishes them from memory without waiting for its poll', async () => {
    // a poll a minute away: only the in-process handoff can publish within this test
    const { capture, stop } = await startRelay('relay-announce', { pollIntervalMs: 60_000 });
    try {
      const [announced, silent] = newEnvelopes([registered(), registered()]);
      const row = (e: typeof announced) => ({ id: e!.id, type: e!.type, aggregate_id: e!.aggregateId, envelope: e });
      await fx.knex('outbox').insert([row(announced), row(silent)]);
      announceCommitted(fx.knex, [announced!]);
      await eventually(() => capture.messages.length >= 1, { timeoutMs: 5_000 });
      await sleep(500);
      expect(capture.messages.map((m) => m.body.id)).toEqual([announced!.id]);
      await eventually(async () => (await fx.knex('outbox').where({ id: announced!.id }).first())?.published_at != null);
      expect((await fx.knex('outbox').where({ id: silent!.id }).first()).published_at).toBeNull();
    } finally {
      await stop();
    }
  });

  test('when a change and its events are written by one statement, they are published from memory once it commits; on rollback, or when the change touched nothing, never', async () => {
    const { capture, stop } = await startRelay('relay-announce-trx', { pollIntervalMs: 60_000 });
    const writeAndAnnounce = (trx: Knex.Transaction, envelope: DomainEvent) =>
      changeWithEvents(trx, trx('effects').insert({ event_id: envelope.id, note: 'made' }).returning('*'), [envelope]);
    try {
      const [committed, rolledBack, untouched] = newEnvelopes([registered(), registered(), registered()]);
      // a change that returns no row writes no event
      const none = await fx.knex.transaction((trx) => changeWithEvents(trx, trx('effects').where({ note: 'no such note' }).update({ note: 'x' }).returning('*'), [untouched!]));
      expect(none).toEqual([]);
      let announcedBeforeCommit = 0;
      await fx.knex.transaction(async (trx) => {
        await writeAndAnnounce(trx, committed!);
        await sleep(300);
        announcedBeforeCommit = capture.messages.length;
      });
      await expect(
        fx.knex.transaction(async (trx) => {
          await writeAndAnnounce(trx, rolledBack!);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await eventually(() => capture.messages.length >= 1, { timeoutMs: 5_000 });
      await sleep(500);
      expect(announcedBeforeCommit).toBe(0);
      expect(capture.messages.map((m) => m.body.id)).toEqual([committed!.id]);
      expect(await fx.knex('outbox').whereIn('id', [rolledBack!.id, untouched!.id])).toEqual([]);
      expect((await fx.knex('effects').select('event_id')).map((r) => r.event_id)).toEqual([committed!.id]);
    } finally {
      await stop();
    }
  });

  test('when an event repeats what its change wrote, changeWithFilledEvent records it in the same statement with those fields taken from the changed row, and nothing when the change touched nothing', async () => {
    const { capture, stop } = await startRelay('relay-filled', { pollIntervalMs: 60_000 });
    await fx.knex.schema.createTable('accounts', (t) => {
      t.uuid('id').primary();
      t.text('email').notNullable();
    });
    try {
      const id = randomUUID();
      const [standIn] = newEnvelopes([{ ...registered(id), payload: { ...registered(id).payload, email: 'stand-in@example.test' } }]);
      const filled = { ...standIn!.payload, email: 'real@example.test' };
      const changed = await fx.knex.transaction((trx) =>
        changeWithFilledEvent<{ id: string; email: string }, 'identity.user.registered'>(trx, trx('accounts').insert({ id, email: 'real@example.test' }).returning('*'), standIn as DomainEvent<'identity.user.registered'>, { email: 'changed.email' }),
      );
      expect(changed?.row).toEqual({ id, email: 'real@example.test' });
      expect(changed?.event).toEqual({ ...standIn, payload: filled });
      await eventually(() => capture.messages.length >= 1, { timeoutMs: 5_000 });
      expect(capture.messages.map((m) => m.body)).toEqual([{ ...standIn, payload: filled }]);
      expect((await fx.knex('outbox').where({ id: standIn!.id }).first()).envelope.payload).toEqual(filled);

      const [unused] = newEnvelopes([registered()]);
      const none = await changeWithFilledEvent(fx.knex, fx.knex('accounts').where({ id: randomUUID() }).update({ email: 'x' }).returning('*'), unused as DomainEvent<'identity.user.registered'>, { email: 'changed.email' });
      expect(none).toBeUndefined();
      expect(await fx.knex('outbox').where({ id: unused!.id })).toEqual([]);

      // the timestamps it fills read exactly as JavaScript writes them
      const at = new Date('2026-03-04T05:06:07.089Z');
      const { rows } = await fx.knex.raw(`select ${isoTimestampSql('?::timestamptz')} as iso`, [at]);
      expect(rows[0].iso).toBe(at.toISOString());
    } finally {
      await stop();
    }
  });

  test('when the broker connection drops mid-stream, the relay reconnects and nothing recorded is lost', async () => {
    const { capture, connection, stop } = await startRelay('relay-drop', { pollIntervalMs: 50, initialDelayMs: 50 });
    try {
      const committed: string[] = [];
      let reconnected = false;
      connection.once('connected', () => {
        reconnected = true;
      });
      for (let i = 0; i < 200; i += 1) {
        const ev = await fx.knex.transaction((trx) => recordEvent(trx, registered()));
        committed.push(ev.id);
        if (i === 60) {
          // cut the TCP connection under the relay, as a network failure would
          (connection.current as unknown as { connection: { stream: { destroy(err: Error): void } } }).connection.stream.destroy(new Error('simulated network failure'));
        }
      }
      await eventually(() => reconnected, { timeoutMs: 10_000 });
      await eventually(() => new Set(capture.messages.map((m) => m.body.id)).size >= committed.length, { timeoutMs: 15_000 });
      const ids = new Set(capture.messages.map((m) => m.body.id));
      for (const id of committed) expect(ids.has(id)).toBe(true);
    } finally {
      await stop();
    }
  });

  test('when the broker nacks batches, every event is published again in its writer’s commit order and marked only once confirmed', async () => {
    const { capture, stop } = await startRelay('relay-nack', { pollIntervalMs: 60_000 });
    // a full queue that refuses what is routed to it: the broker nacks each publish (the capture queue still gets a copy)
    const admin = await amqp.connect(fx.amqpUrl);
    const channel = await admin.createChannel();
    const gate = `relay-nack-gate-${randomUUID()}`;
    try {
      // exclusive: it goes with the test's connection, however the test ends
      await channel.assertQueue(gate, { durable: false, exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
      channel.sendToQueue(gate, Buffer.from('fills the gate'));
      await eventually(async () => (await channel.checkQueue(gate)).messageCount === 1);
      await channel.bindQueue(gate, fx.exchange, '#');
      // 8 writers commit 8 events each, every commit handed to the relay at once
      const writers = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const ids: string[] = [];
          for (let i = 0; i < 8; i += 1) ids.push((await fx.knex.transaction((trx) => recordEvent(trx, registered()))).id);
          return ids;
        }),
      );
      const committed = writers.flat();
      // each try reaches the capture queue, nacked or not; the relay's backoff grows with each failed try
      await eventually(() => new Set(capture.messages.map((m) => m.body.id)).size === committed.length, { timeoutMs: 15_000 });
      expect(await fx.knex('outbox').whereNotNull('published_at').count<{ count: string }[]>('* as count')).toEqual([{ count: '0' }]);
      await channel.deleteQueue(gate);
      // the retries (after the relay's backoff) are confirmed: the last copies of each writer's events, in its commit order
      await eventually(async () => Number((await fx.knex('outbox').whereNull('published_at').count<{ count: string }[]>('* as count'))[0]!.count) === 0, { timeoutMs: 15_000 });
      const ids = capture.messages.map((m) => m.body.id as string);
      for (const writer of writers) {
        const lastCopies = writer.map((id) => ids.lastIndexOf(id));
        expect(lastCopies).toEqual([...lastCopies].sort((a, b) => a - b));
      }
      expect(ids.length).toBeGreaterThan(committed.length); // the nacked copies and their retries both reached the capture
    } finally {
      await admin.close().catch(() => undefined);
      await stop();
    }
  });

  test('when published rows are older than the retention, purge removes them and keeps unpublished ones', async () => {
    const connection = new BrokerConnection({ url: fx.amqpUrl, name: 'relay-purge', logger: silentLogger });
    const relay = new OutboxRelay({ service: 'identity', knex: fx.knex, connection, exchange: fx.exchange, logger: silentLogger, outboxRetentionHours: 1 });
    const old = await recordEvent(fx.knex, registered());
    const unpublished = await recordEvent(fx.knex, registered());
    await fx.knex('outbox').where({ id: old.id }).update({ published_at: fx.knex.raw("now() - interval '2 hours'") });
    const result = await relay.purge();
    expect(result.outbox).toBe(1);
    const left = await fx.knex('outbox').pluck('id');
    expect(left).toEqual([unpublished.id]);
  });
});
