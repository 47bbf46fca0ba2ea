#!/usr/bin/env node
'use strict';
// npm run bench:relay — the outbox relay against its floors, measured in the same run:
//  1. throughput: relay draining a backlog of N outbox rows (the claiming poll) vs raw amqplib
//     confirm-publish of the same messages with 200 confirms in flight;
//  2. commit → delivered latency at low load (transaction commit to the message arriving at a
//     consumer, an upper bound of commit → publish): the fast path, rows handed over in-process;
//  3. outbox-transaction throughput with the relay running, 1 and 8 writers, vs the same
//     transactions with the relay stopped.
// Medians of RUNS repetitions. Infrastructure from DATABASE_URL / AMQP_URL or localhost.
const { randomUUID } = require('node:crypto');
const amqp = require('amqplib');
const knexFactory = require('knex');
const pino = require('pino');
const { ensureDatabase } = require('@guitaronline/platform');
const { BrokerConnection, OutboxRelay, createMessagingTables, recordEvent } = require('@guitaronline/messaging');

const N = Number(process.env.BENCH_EVENTS || 10000);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const WRITE_SECONDS = Number(process.env.BENCH_WRITE_SECONDS || 4);
const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline';
const dbUrl = (() => {
  const u = new URL(base);
  u.pathname = '/guitaronline_bench';
  return u.toString();
})();
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const logger = pino({ level: 'silent' });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function payload() {
  const userId = randomUUID();
  return { type: 'identity.user.registered', aggregateId: userId, payload: { userId, email: `${userId}@bench.test`, role: 'student', fullName: 'Bench User' } };
}

async function setup() {
  await ensureDatabase(dbUrl);
  const schema = `bench_${Date.now().toString(36)}`;
  const admin = knexFactory({ client: 'pg', connection: dbUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create schema ${schema}`);
  await admin.destroy();
  const knex = knexFactory({ client: 'pg', connection: dbUrl, searchPath: [schema], pool: { min: 1, max: 12 } });
  await createMessagingTables(knex);
  await knex.schema.createTable('bookings_bench', (t) => {
    t.uuid('id').primary();
    t.text('status');
  });
  return { knex, schema };
}

async function withSink(exchange, fn) {
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await ch.assertQueue(`${exchange}.sink`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(queue, exchange, '#');
  let onMessage = () => undefined;
  await ch.prefetch(1000);
  await ch.consume(queue, (msg) => {
    if (!msg) return;
    onMessage(msg);
    ch.ack(msg);
  });
  try {
    return await fn({ setHandler: (h) => (onMessage = h) });
  } finally {
    await ch.deleteQueue(queue).catch(() => undefined);
    await ch.deleteExchange(exchange).catch(() => undefined);
    await conn.close();
  }
}

async function rawPublish(exchange, bodies) {
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createConfirmChannel();
  const started = process.hrtime.bigint();
  let inFlight = 0;
  let next = 0;
  await new Promise((resolve, reject) => {
    let done = 0;
    const pump = () => {
      while (inFlight < 200 && next < bodies.length) {
        const b = bodies[next++];
        inFlight += 1;
        ch.publish(exchange, b.type, Buffer.from(JSON.stringify(b)), { persistent: true, messageId: b.id, contentType: 'application/json' }, (err) => {
          if (err) return reject(err);
          inFlight -= 1;
          done += 1;
          if (done === bodies.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await conn.close();
  return bodies.length / seconds;
}

async function relayThroughput(knex, exchange) {
  await knex('outbox').delete();
  const rows = [];
  for (let i = 0; i < N; i += 1) {
    const p = payload();
    const id = randomUUID();
    rows.push({
      id,
      type: p.type,
      aggregate_id: p.aggregateId,
      // a backlog left behind (e.g. by a broker outage): what the claiming poll drains
      created_at: knex.raw("now() - interval '1 hour'"),
      envelope: { id, type: p.type, version: 1, occurredAt: new Date().toISOString(), source: 'identity', correlationId: randomUUID(), causationId: null, aggregateId: p.aggregateId, payload: p.payload },
    });
  }
  for (let i = 0; i < rows.length; i += 1000) await knex('outbox').insert(rows.slice(i, i + 1000));
  const connection = new BrokerConnection({ url: amqpUrl, name: 'bench-relay', logger });
  await connection.start();
  const relay = new OutboxRelay({ service: 'identity', knex, connection, exchange, logger, batchSize: 500, pollIntervalMs: 5 });
  const started = process.hrtime.bigint();
  relay.start();
  for (;;) {
    const { count } = await knex('outbox').whereNull('published_at').count('* as count').first();
    if (Number(count) === 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await relay.stop();
  await connection.stop();
  return { rate: N / seconds, bodies: rows.map((r) => r.envelope) };
}

async function latency(knex, exchange, sink) {
  const connection = new BrokerConnection({ url: amqpUrl, name: 'bench-latency', logger });
  await connection.start();
  const relay = new OutboxRelay({ service: 'identity', knex, connection, exchange, logger, pollIntervalMs: 1000 });
  relay.start();
  const committedAt = new Map();
  const samples = [];
  sink.setHandler((msg) => {
    const t = committedAt.get(msg.properties.messageId);
    if (t !== undefined) samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  });
  for (let i = 0; i < 200; i += 1) {
    const ev = await knex.transaction((trx) => recordEvent(trx, payload()));
    committedAt.set(ev.id, process.hrtime.bigint());
    await new Promise((r) => setTimeout(r, 20)); // ~50 tx/s: low load
  }
  await new Promise((r) => setTimeout(r, 500));
  await relay.stop();
  await connection.stop();
  sink.setHandler(() => undefined);
  return { p50: pct(samples, 50), p99: pct(samples, 99), n: samples.length };
}

async function writers(knex, exchange, count, withRelay) {
  let connection;
  let relay;
  if (withRelay) {
    connection = new BrokerConnection({ url: amqpUrl, name: 'bench-writers', logger });
    await connection.start();
    relay = new OutboxRelay({ service: 'identity', knex, connection, exchange, logger });
    relay.start();
  }
  const deadline = Date.now() + WRITE_SECONDS * 1000;
  let tx = 0;
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (Date.now() < deadline) {
        await knex.transaction(async (trx) => {
          const p = payload();
          await trx('bookings_bench').insert({ id: randomUUID(), status: 'confirmed' });
          await recordEvent(trx, p);
        });
        tx += 1;
      }
    }),
  );
  if (relay) {
    await relay.stop();
    await connection.stop();
  }
  await knex('outbox').delete();
  return tx / WRITE_SECONDS;
}

async function main() {
  const { knex, schema } = await setup();
  const exchange = `bench.${schema}`;
  const results = { raw: [], relay: [], p50: [], p99: [], w1: [], w1floor: [], w8: [], w8floor: [] };
  try {
    await withSink(exchange, async (sink) => {
      for (let run = 1; run <= RUNS; run += 1) {
        const { rate, bodies } = await relayThroughput(knex, exchange);
        results.relay.push(rate);
        results.raw.push(await rawPublish(exchange, bodies));
        const lat = await latency(knex, exchange, sink);
        results.p50.push(lat.p50);
        results.p99.push(lat.p99);
        results.w1floor.push(await writers(knex, exchange, 1, false));
        results.w1.push(await writers(knex, exchange, 1, true));
        results.w8floor.push(await writers(knex, exchange, 8, false));
        results.w8.push(await writers(knex, exchange, 8, true));
        console.log(
          `run ${run}: relay ${fmt(rate)} ev/s, raw ${fmt(results.raw.at(-1))} msg/s, commit→delivered p50 ${fmt(lat.p50, 2)} ms p99 ${fmt(lat.p99, 2)} ms (n=${lat.n}), ` +
            `writers 1: ${fmt(results.w1.at(-1))} tx/s (floor ${fmt(results.w1floor.at(-1))}), 8: ${fmt(results.w8.at(-1))} tx/s (floor ${fmt(results.w8floor.at(-1))})`,
        );
      }
    });
  } finally {
    await knex.raw(`drop schema ${schema} cascade`);
    await knex.destroy();
  }
  const m = (k) => median(results[k]);
  console.log(`\nmedians of ${RUNS} runs, ${N} events each`);
  console.log(`relay throughput              ${fmt(m('relay'))} events/s`);
  console.log(`raw confirm-publish (200 in flight) ${fmt(m('raw'))} msg/s`);
  console.log(`relay / raw                   ${fmt(m('relay') / m('raw'), 2)}  (target ≥ 0.50)`);
  console.log(`commit → delivered, ~50 tx/s  p50 ${fmt(m('p50'), 2)} ms, p99 ${fmt(m('p99'), 2)} ms  (target p50 ≤ 5 ms)`);
  console.log(`outbox tx/s, 1 writer         ${fmt(m('w1'))} with relay, ${fmt(m('w1floor'))} without (${fmt(m('w1') / m('w1floor'), 2)}×)`);
  console.log(`outbox tx/s, 8 writers        ${fmt(m('w8'))} with relay, ${fmt(m('w8floor'))} without (${fmt(m('w8') / m('w8floor'), 2)}×)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
