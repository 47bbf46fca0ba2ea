#!/usr/bin/env node
'use strict';
// npm run bench:floor — the least one booking saga can cost this box, measured now: the work
// the design makes every saga do (DESIGN.md, EVENTS.md), done by the bare infrastructure with
// no application code — no express, zod, knex, JSON envelopes of ours, tokens, logs or
// metrics — each part at full speed for BENCH_SECONDS, CPU from /proc:
//  http      the saga's 2 requests (hold, confirm), each through a bare proxy (node http →
//            undici, gateway/bench/bench-bare-proxy.js) to a bare node origin: proxy + origin
//            CPU (the load driver, autocannon, not counted)
//  commits   its 5 state changes (hold, confirm, debit, confirmed, lesson), each a transaction
//            that writes one row and its outbox row: BEGIN, 2 prepared INSERTs, COMMIT, 8
//            connections; Postgres + client CPU
//  rows      what trails, written as cheaply as batching gets (multi-row statements of 50 rows
//            from unnest): 11 event-log rows (admin logs every event), 6 notifications, 6
//            marked sent, 6 notification.sent outbox rows, 11 outbox rows marked published = 40
//  broker    its 11 events (booking.held, .confirmation_requested, billing.lesson.debited,
//            booking.confirmed, lesson.created, 6 × notification.sent) published persistent with
//            confirms (≤ 200 in flight) to a topic exchange whose quorum queues route them as the
//            services' do: 17 deliveries, each acked; RabbitMQ + client CPU
//  smtp      its 6 e-mails (held, confirmed, lesson created; student and teacher) through
//            nodemailer with the notifications service's options; sender CPU (the sink stands
//            for the mail relay and is printed apart)
// The sum is a floor, not an estimate: everything the services do beyond this (validation,
// inbox rows, ledgers, idempotency keys, reads, logs, metrics, the load driver) comes on top.
// It prints each part per saga and the most sagas/s the box's cores could give if it did
// nothing else. Infrastructure from DATABASE_URL / AMQP_URL or localhost.
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { fork } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { cpuMs, infraCpuMs } = require('./proc-cpu');

// the children go with the run, however it ends (a crash of the run skips its finally)
if (process.argv[2]) process.on('disconnect', () => process.exit(0));
if (process.argv[2] === 'origin') {
  const body = JSON.stringify({ id: randomUUID(), status: 'held', slotId: randomUUID(), studentId: randomUUID(), teacherId: randomUUID(), startAt: new Date().toISOString(), endAt: new Date().toISOString() });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  return;
}
if (process.argv[2] === 'sink') {
  const { startSmtp } = require('@guitaronline/testing');
  void startSmtp().then((smtp) => process.send(smtp.url));
  return;
}

const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const PER_SAGA = { requests: 2, commits: 5, rows: 40, events: 11, deliveries: 17, mails: 6 };
const ENVELOPE = JSON.stringify({
  id: randomUUID(),
  type: 'booking.confirmed',
  version: 1,
  occurredAt: new Date().toISOString(),
  producer: 'booking',
  correlationId: randomUUID(),
  causationId: randomUUID(),
  payload: { bookingId: randomUUID(), slotId: randomUUID(), studentId: randomUUID(), teacherId: randomUUID(), packageId: randomUUID(), startAt: new Date().toISOString(), endAt: new Date().toISOString() },
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const childReady = (child) => new Promise((resolve, reject) => child.once('message', resolve).once('exit', (code) => reject(new Error(`child exited ${code}`))));
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Runs `work` for SECONDS; answers the units it did and the CPU ms of this process and the infrastructure meanwhile. */
async function measured(work) {
  const self0 = selfCpuMs();
  const infra0 = infraCpuMs();
  const units = await work(Date.now() + SECONDS * 1000);
  const infra1 = infraCpuMs();
  return { units, self: selfCpuMs() - self0, postgres: infra1.postgres - infra0.postgres, rabbitmq: infra1.rabbitmq - infra0.rabbitmq };
}

async function httpPart(proxyUrl, proxy, origin) {
  const autocannon = require('autocannon');
  const before = [cpuMs(proxy.pid), cpuMs(origin.pid)];
  const result = await new Promise((resolve, reject) =>
    autocannon({ url: `${proxyUrl}/api/v1/booking/holds`, connections: 50, duration: SECONDS, method: 'POST', body: '{"slotId":"8b0f3c55-7d1c-4f6e-9a55-2f1d3f0e4b11"}', headers: { 'content-type': 'application/json' } }, (err, r) => (err ? reject(err) : resolve(r))),
  );
  if (result.non2xx || result.errors) throw new Error(`http part: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const ms = cpuMs(proxy.pid) - before[0] + (cpuMs(origin.pid) - before[1]);
  return { perUnit: ms / result.requests.total, rate: result.requests.average };
}

async function commitsPart(pool) {
  const workers = 8;
  const { units, self, postgres } = await measured(async (until) => {
    let n = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        const client = await pool.connect();
        try {
          while (Date.now() < until) {
            const id = randomUUID();
            await client.query('begin');
            await client.query({ name: 'floor-change', text: 'insert into floor_state (id, status, changed_at) values ($1, $2, now())', values: [id, 'confirmed'] });
            await client.query({ name: 'floor-outbox', text: 'insert into floor_outbox (id, aggregate_id, type, envelope) values ($1, $2, $3, $4)', values: [randomUUID(), id, 'booking.confirmed', ENVELOPE] });
            await client.query('commit');
            n++;
          }
        } finally {
          client.release();
        }
      }),
    );
    return n;
  });
  return { perUnit: (self + postgres) / units, rate: units / SECONDS };
}

async function rowsPart(pool) {
  const batch = 50;
  const ids = () => Array.from({ length: batch }, () => randomUUID());
  const envelopes = Array.from({ length: batch }, () => ENVELOPE);
  const { units, self, postgres } = await measured(async (until) => {
    let n = 0;
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        const client = await pool.connect();
        try {
          while (Date.now() < until) {
            await client.query({ name: 'floor-rows', text: "insert into floor_log (id, type, envelope) select id, 'booking.confirmed', e from unnest($1::uuid[], $2::jsonb[]) as t(id, e)", values: [ids(), envelopes] });
            n += batch;
          }
        } finally {
          client.release();
        }
      }),
    );
    return n;
  });
  return { perUnit: (self + postgres) / units, rate: units / SECONDS };
}

async function brokerPart(amqpUrl) {
  const amqp = require('amqplib');
  const id = randomUUID().slice(0, 8);
  const exchange = `floor.${id}`;
  // the saga's events, routed to their consumers' queues as the catalogue says (EVENTS.md, admin's eventConsumers)
  const { consumersOf } = require('../services/admin/dist/src/domain/event-consumers.js');
  const sagaEvents = ['booking.held', 'booking.confirmation_requested', 'billing.lesson.debited', 'booking.confirmed', 'lesson.created', ...Array(6).fill('notification.sent')];
  const queues = {};
  for (const type of new Set(sagaEvents)) for (const service of consumersOf(type)) (queues[service] ??= []).push(type);
  const perSaga = sagaEvents.reduce((n, type) => n + consumersOf(type).length, 0);
  if (perSaga !== PER_SAGA.deliveries) throw new Error(`routing gives ${perSaga} deliveries per saga`);
  const conn = await amqp.connect(amqpUrl);
  try {
    const setup = await conn.createChannel();
    await setup.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
    for (const [name, keys] of Object.entries(queues)) {
      await setup.assertQueue(`${exchange}.${name}`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      for (const key of keys) await setup.bindQueue(`${exchange}.${name}`, exchange, key);
    }
    const body = Buffer.from(ENVELOPE);
    let delivered = 0;
    let wanted = Infinity;
    let allDelivered;
    const done = new Promise((resolve) => (allDelivered = resolve));
    for (const name of Object.keys(queues)) {
      const ch = await conn.createChannel();
      await ch.prefetch(100);
      await ch.consume(`${exchange}.${name}`, (msg) => {
        if (msg === null) return; // the broker cancelled the consumer: its queue was deleted by the cleanup below
        ch.ack(msg);
        if (++delivered >= wanted) allDelivered();
      });
    }
    const pub = await conn.createConfirmChannel();
    const result = await measured(async (until) => {
      let sagas = 0;
      while (Date.now() < until) {
        for (let i = 0; i < 200 / sagaEvents.length; i++, sagas++) {
          for (const type of sagaEvents) pub.publish(exchange, type, body, { persistent: true, contentType: 'application/json', messageId: randomUUID() });
        }
        await pub.waitForConfirms();
      }
      wanted = sagas * perSaga;
      if (delivered < wanted) await done;
      return sagas;
    });
    return { perUnit: (result.self + result.rabbitmq) / result.units, rate: result.units / SECONDS };
  } finally {
    // durable queues outlive the connection: gone with the part, however it ended
    const cleanup = await conn.createChannel().catch(() => undefined);
    for (const name of Object.keys(queues)) await cleanup?.deleteQueue(`${exchange}.${name}`).catch(() => undefined);
    await conn.close();
  }
}

async function smtpPart(smtpUrl, sink) {
  const nodemailer = require('nodemailer');
  const { smtpOptions } = require('../services/notifications/dist/src/channels/email-channel.js');
  const transport = nodemailer.createTransport(smtpOptions(smtpUrl, 30_000));
  const text = 'Your lesson with Test teacher is booked for Monday 10:00 UTC.\n'.repeat(8);
  const sink0 = cpuMs(sink.pid);
  const { units, self } = await measured(async (until) => {
    let n = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (Date.now() < until) {
          const id = randomUUID();
          await transport.sendMail({ from: 'GuitarOnline <no-reply@guitaronline.local>', to: `${id}@example.test`, subject: 'Lesson booked', text, messageId: `<${id}@bench>`, headers: { 'X-GuitarOnline-Notification': id } });
          n++;
        }
      }),
    );
    return n;
  });
  transport.close();
  return { perUnit: self / units, rate: units / SECONDS, sinkPerUnit: (cpuMs(sink.pid) - sink0) / units };
}

async function main() {
  const { Pool } = require('pg');
  const { ensureDatabase } = require('@guitaronline/platform');
  const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline';
  const dbUrl = new URL(base);
  dbUrl.pathname = `/guitaronline_floor_${randomUUID().slice(0, 8)}`;
  await ensureDatabase(dbUrl.toString());
  const pool = new Pool({ connectionString: dbUrl.toString(), max: 10 });
  await pool.query(`create table floor_state (id uuid primary key, status text not null, changed_at timestamptz not null);
    create table floor_outbox (id uuid primary key, aggregate_id uuid not null, type text not null, envelope jsonb not null, created_at timestamptz not null default now(), published_at timestamptz);
    create table floor_log (id uuid primary key, type text not null, envelope jsonb not null, received_at timestamptz not null default now())`);
  const origin = fork(process.argv[1], ['origin'], { stdio: 'inherit' });
  const sink = fork(process.argv[1], ['sink'], { stdio: 'inherit' });
  const originPort = await childReady(origin);
  const smtpUrl = await childReady(sink);
  const proxyPort = await new Promise((resolve) => {
    const s = require('node:net').createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const proxy = fork(path.join(__dirname, '..', 'gateway', 'bench', 'bench-bare-proxy.js'), [], { env: { ...process.env, PORT: String(proxyPort), UPSTREAM: `http://127.0.0.1:${originPort}` }, stdio: 'inherit' });
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${proxyUrl}/`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const parts = [
    ['http', 'requests', () => httpPart(proxyUrl, proxy, origin)],
    ['commits', 'commits', () => commitsPart(pool)],
    ['rows', 'rows', () => rowsPart(pool)],
    ['broker', 'sagas', () => brokerPart(process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672')],
    ['smtp', 'mails', () => smtpPart(smtpUrl, sink)],
  ];
  const units = { requests: PER_SAGA.requests, commits: PER_SAGA.commits, rows: PER_SAGA.rows, sagas: 1, mails: PER_SAGA.mails };
  const results = Object.fromEntries(parts.map(([name]) => [name, []]));
  try {
    console.log(`floor of one saga: ${os.cpus().length} CPUs, ${SECONDS} s per part, ${RUNS} runs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (let run = 1; run <= RUNS; run++) {
      const line = [];
      for (const [name, unit, part] of parts) {
        const r = await withDeadline(part(), (4 * SECONDS + 30) * 1000, `${name} part of run ${run}`);
        results[name].push(r);
        line.push(`${name} ${(r.perUnit * units[unit]).toFixed(2)} ms (${r.rate.toFixed(0)} ${unit}/s)`);
      }
      console.log(`run ${run}: ${line.join(', ')}`);
    }
  } finally {
    for (const child of [proxy, origin, sink]) child.kill();
    await pool.end();
    const { Client } = require('pg');
    const adminUrl = new URL(base);
    adminUrl.pathname = '/postgres';
    const admin = new Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(`drop database if exists "${dbUrl.pathname.slice(1)}" with (force)`);
    await admin.end();
  }
  console.log('');
  let total = 0;
  for (const [name, unit] of parts) {
    const perSaga = median(results[name].map((r) => r.perUnit)) * units[unit];
    total += perSaga;
    const extra = name === 'smtp' ? ` (the sink: ${(median(results.smtp.map((r) => r.sinkPerUnit)) * PER_SAGA.mails).toFixed(2)} ms more, not counted)` : '';
    console.log(`median ${name.padEnd(8)} ${perSaga.toFixed(2).padStart(6)} ms CPU per saga (${units[unit]} ${unit} × ${median(results[name].map((r) => r.perUnit)).toFixed(3)} ms)${extra}`);
  }
  const cores = os.cpus().length;
  console.log(`median floor    ${total.toFixed(2).padStart(6)} ms CPU per saga: at most ${((cores * 1000) / total).toFixed(0)} sagas/s on ${cores} cores with nothing else running; 200 sagas/s needs ≤ ${((cores * 1000) / 200).toFixed(1)} ms`);
}

/** A part that has not ended by then fails the run, naming itself (children stopped, database dropped), instead of hanging it. */
function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
