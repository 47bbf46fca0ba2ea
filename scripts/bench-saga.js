#!/usr/bin/env node
'use strict';
// npm run bench:saga — drives the booking saga through the gateway with concurrent students:
// identity, booking, billing, lessons and the gateway each run as their own process (built
// dist, as `npm start` runs them; BENCH_INPROCESS=1 runs them all in this process instead, which
// BENCH_QUERY_STATS needs) against the local Postgres/RabbitMQ/Redis on a private exchange. For each saga: hold, then confirm;
// latency is measured from sending the confirm to the `booking.confirmed` event and to the
// `lesson.created` event reaching a listener on the exchange. Phase 1 also prints each step as
// the service saw it (the confirm request, and each saga handler from its inbox row to its
// commit; the services' own histograms), so a hop splits into handling and the way between.
//  phase 1: a fixed rate (BENCH_RATE, default 50 sagas/s) for BENCH_SECONDS;
//  phase 2: as fast as BENCH_CONCURRENCY (default 64) students can go, for BENCH_SECONDS.
// Notifications (e-mailing both sides of every confirmed booking to a local SMTP sink) and admin
// (event log, KPIs) run too, as on a real deployment — at nice BACKGROUND_NICE (10), as `npm start`
// runs them; BACKGROUND_NICE=0 for the same priority as the rest. BENCH_CORE_ONLY=1 leaves them
// out, BENCH_WITHOUT=<service,...> leaves out those named.
const { spawn } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const path = require('node:path');
const amqp = require('amqplib');

const root = path.resolve(__dirname, '..');
const RATE = Number(process.env.BENCH_RATE || 50);
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 64);
const HOUR = 3_600_000;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const f = (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

/** What main() started, so a failed run can stop it too. */
const children = [];
/** The run's own database (when DATABASE_URL does not name one), dropped however the run ends. */
let runDatabase;
/** The run's private bus (exchange and queues), deleted however the run ends. */
let runBus;

async function main() {
  const id = Math.random().toString(36).slice(2, 8);
  const bus = { EVENTS_EXCHANGE: `bench.${id}.events`, EVENTS_QUEUE_PREFIX: `b${id}.` };
  const base = {
    ...process.env,
    ...bus,
    APP_ENV: 'test',
    LOG_LEVEL: 'warn',
    BCRYPT_COST: '4',
    PORT: '0',
    HOST: '127.0.0.1',
    // a database of its own per run (dropped at the end): an earlier run's leftovers — e-mails
    // still waiting to go out, a longer event log — would otherwise load the next one
    DATABASE_URL: process.env.DATABASE_URL || `postgres://postgres@127.0.0.1:5432/guitaronline_bench_${id}`,
  };
  if (!process.env.DATABASE_URL) runDatabase = base.DATABASE_URL;
  const { provision } = require('./provision-lib');
  await provision({ databaseUrl: base.DATABASE_URL });
  const testing = require('@guitaronline/testing');
  const smtp = await testing.startSmtp();
  base.SMTP_URL = smtp.url;
  // BENCH_WITHOUT=admin,notifications: leave those out (BENCH_CORE_ONLY=1: both)
  const without = new Set((process.env.BENCH_WITHOUT ?? (process.env.BENCH_CORE_ONLY ? 'notifications,admin' : '')).split(',').filter(Boolean));
  const services = ['identity', 'booking', 'billing', 'lessons', 'notifications', 'admin'].filter((name) => !without.has(name));
  runBus = { bus, services };
  const load = (p) => require(path.join(root, p));
  // notifications and admin at a lower CPU priority, as `npm start` runs them (BACKGROUND_NICE,
  // default 10; 0 runs them at the same priority as the rest; scripts/priorities.js)
  const { BACKGROUND_SERVICES, backgroundNice } = require('./priorities');
  const BACKGROUND_NICE = process.env.BENCH_INPROCESS ? 0 : backgroundNice(process.env);
  const background = new Set(BACKGROUND_NICE ? BACKGROUND_SERVICES : []);
  const started = children;
  const limits = {
    AUTH_RATE_LIMIT_REDIS_NAMESPACE: `rl-bench-${id}`,
    AUTH_RATE_LIMIT_REGISTER_REQUESTS: '1000000',
    AUTH_RATE_LIMIT_LOGIN_REQUESTS: '1000000',
    API_RATE_LIMIT_REQUESTS: '100000000',
  };
  let gateway;
  const urlVar = (name) => `${name.toUpperCase()}_URL`;
  if (process.env.BENCH_INPROCESS) {
    const env = { ...base };
    for (const name of services) {
      const svc = await load(`services/${name}/dist/src/main.js`).start(env);
      started.push(Object.assign(svc, { name }));
      env[urlVar(name)] = svc.url;
    }
    gateway = await load('gateway/dist/src/main.js').start({ ...env, ...limits });
    started.push(Object.assign(gateway, { name: 'gateway' }));
  } else {
    const basePort = Number(process.env.BENCH_BASE_PORT || 18100);
    const ports = Object.fromEntries(['gateway', ...services].map((name, i) => [name, basePort + i]));
    const urls = Object.fromEntries(Object.entries(ports).map(([n, port]) => [n, `http://127.0.0.1:${port}`]));
    const env = { ...base, ...Object.fromEntries(services.map((name) => [urlVar(name), urls[name]])), ...limits };
    for (const name of [...services, 'gateway']) {
      const entry = name === 'gateway' ? 'gateway/dist/src/main.js' : `services/${name}/dist/src/main.js`;
      // BENCH_CPU_PROF=<dir>: a CPU profile of every service process, written when it stops
      const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
      const child = spawn(process.execPath, [...profile, path.join(root, entry)], { env: { ...env, PORT: String(ports[name]) }, stdio: ['ignore', 'ignore', 'inherit'] });
      started.push({ name, pid: child.pid, url: urls[name], stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) });
      if (background.has(name)) require('node:os').setPriority(child.pid, BACKGROUND_NICE);
      for (let i = 0; ; i += 1) {
        const ok = await fetch(`${urls[name]}/health`).then((r) => r.ok, () => false);
        if (ok) break;
        if (i > 200) throw new Error(`${name} did not start`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    gateway = { url: urls.gateway };
  }
  // BENCH_QUERY_STATS=1: count the SQL each service sends (find what dominates the database load)
  const queryStats = new Map();
  if (process.env.BENCH_QUERY_STATS && process.env.BENCH_INPROCESS) {
    for (const svc of started) {
      const db = svc.db ?? svc.knex;
      if (!db || typeof db.on !== 'function') continue;
      const { name } = svc;
      db.on('query', (q) => {
        const key = `${name}: ${String(q.sql).replace(/\s+/g, ' ').slice(0, 90)}`;
        queryStats.set(key, (queryStats.get(key) ?? 0) + 1);
      });
    }
  }

  // plain node http over a keep-alive agent: the driver shares the box with what it measures, and
  // fetch costs it about twice the CPU per request
  const http = require('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const gatewayAddress = new URL(gateway.url);
  // a request on a kept-alive socket the server closed meanwhile (its 5 s idle timeout, e.g. while
  // the fixtures drain) fails with ECONNRESET before the server read it: sent again once on a new
  // socket, as node's docs advise (req.reusedSocket), instead of failing the run
  const call = (method, p, token, body, headers = {}, retried = false) =>
    new Promise((resolve, reject) => {
      const payload = body ? JSON.stringify(body) : undefined;
      const req = http.request(
        {
          agent,
          host: gatewayAddress.hostname,
          port: gatewayAddress.port,
          method,
          path: p,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried) resolve(call(method, p, token, body, headers, true));
        else reject(err);
      });
      req.end(payload);
    });
  const register = async (role) => {
    const email = `${role}-${randomUUID()}@bench.test`;
    const reg = await call('POST', '/api/v1/identity/auth/register', null, { email, password: 'bench-password-1', fullName: 'Bench', role });
    const login = await call('POST', '/api/v1/identity/auth/login', null, { email, password: 'bench-password-1' });
    return { id: reg.body.id, token: login.body.accessToken };
  };

  // listener for the saga's end events
  const conn = await amqp.connect(base.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672', { noDelay: true });
  const ch = await conn.createChannel();
  await ch.assertExchange(bus.EVENTS_EXCHANGE, 'topic', { durable: true });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, bus.EVENTS_EXCHANGE, 'booking.confirmed');
  await ch.bindQueue(queue, bus.EVENTS_EXCHANGE, 'lesson.created');
  await ch.bindQueue(queue, bus.EVENTS_EXCHANGE, 'booking.rejected');
  // per hop (BENCH_HOPS=0 leaves it out): when each step's event reached the listener, from the
  // confirm request — two more deliveries per saga that the broker's CPU figure includes
  const hopTypes = process.env.BENCH_HOPS === '0' ? [] : ['booking.confirmation_requested', 'billing.lesson.debited'];
  for (const type of hopTypes) await ch.bindQueue(queue, bus.EVENTS_EXCHANGE, type);
  const hops = Object.fromEntries(hopTypes.map((type) => [type, []]));
  const confirmSent = new Map();
  const toConfirmed = [];
  const toLesson = [];
  let rejected = 0;
  await ch.consume(
    queue,
    (msg) => {
      const ev = JSON.parse(msg.content.toString());
      const t0 = confirmSent.get(ev.payload.bookingId);
      if (t0 === undefined) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (hops[ev.type]) hops[ev.type].push(ms);
      else if (ev.type === 'booking.confirmed') toConfirmed.push(ms);
      else if (ev.type === 'lesson.created') toLesson.push(ms);
      else rejected += 1;
    },
    { noAck: true },
  );

  // fixtures: admin for packages, teachers with many slots, students with large packages
  const { runCreateAdmin } = load('services/identity/dist/src/cli/create-admin.js');
  const adminEmail = `admin-${id}@bench.test`;
  await runCreateAdmin(['--email', adminEmail, '--password', 'bench-password-1'], base, { out: () => undefined, err: () => undefined });
  const admin = (await call('POST', '/api/v1/identity/auth/login', null, { email: adminEmail, password: 'bench-password-1' })).body.accessToken;
  const students = await Promise.all(Array.from({ length: CONCURRENCY }, () => register('student')));
  await Promise.all(
    students.map((s) =>
      call('POST', '/api/v1/billing/packages', admin, { studentId: s.id, lessonsTotal: 1000, expiresAt: new Date(Date.now() + 365 * 24 * HOUR).toISOString(), priceCents: 1, currency: 'EUR' }),
    ),
  );
  const teachers = await Promise.all(Array.from({ length: 20 }, () => register('teacher')));
  const slotPool = [];
  let hourIndex = 0;
  const makeSlots = async (total) => {
    for (let done = 0; done < total; done += 50) await makeSlotBatch(Math.min(50, total - done));
  };
  const makeSlotBatch = async (count) => {
    const batch = [];
    for (let i = 0; i < count; i += 1) {
      const teacher = teachers[hourIndex % teachers.length];
      const startAt = new Date(Date.now() + 48 * HOUR + Math.floor(hourIndex++ / teachers.length) * HOUR);
      startAt.setUTCMinutes(0, 0, 0);
      batch.push(call('POST', '/api/v1/scheduling/slots', teacher.token, { startAt: startAt.toISOString(), endAt: new Date(startAt.getTime() + HOUR - 60_000).toISOString() }));
    }
    for (const r of await Promise.all(batch)) if (r.status === 201) slotPool.push(r.body.id);
  };
  await makeSlots(Number(process.env.BENCH_SLOTS || RATE * SECONDS * 1.2 + 250 * SECONDS + CONCURRENCY));
  // the fixtures' events (a slot_created per slot, registrations, packages) are consumed before anything is measured
  const drained = async () => {
    for (const name of services) {
      // a channel of its own: checking a queue that does not exist (a service without handlers) closes it
      const probe = await conn.createChannel();
      probe.on('error', () => undefined);
      const depth = await probe.checkQueue(`${bus.EVENTS_QUEUE_PREFIX}${name}.events`).then((q) => q.messageCount, () => 0);
      await probe.close().catch(() => undefined);
      if (depth > 0) return false;
    }
    return true;
  };
  for (let waited = 0; !(await drained()) && waited < 120_000; waited += 250) await new Promise((r) => setTimeout(r, 250));
  queryStats.clear(); // count what the sagas cost, not the fixtures

  // CPU time each service process spends during the measured phases (Linux /proc), per saga
  const { cpuMs, infraCpuMs } = require('./proc-cpu');
  const cpuBefore = started.filter((s) => s.pid).map((s) => [s.name, cpuMs(s.pid)]);
  const mailsBefore = smtp.state.received.length;
  // Postgres CPU by the role of each backend (every service connects as its own role): which
  // service's statements the database works for. Backends that end between two readings take
  // their CPU with them (the pools keep theirs open through a run).
  const backendCpu = () => {
    const fs = require('node:fs');
    const byPid = new Map();
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        const m = /^postgres: [^:]+: (\S+) (\S+) /.exec(title);
        if (m && m[2] === dbName) byPid.set(pid, { role: m[1].replace(/_svc$/, ''), ms: cpuMs(pid) });
      } catch {
        // gone meanwhile
      }
    }
    return byPid;
  };
  const dbName = new URL(base.DATABASE_URL).pathname.slice(1);
  const postgresByRole = (before, after) => {
    const out = {};
    for (const [pid, { role, ms }] of after) out[role] = (out[role] ?? 0) + ms - (before.get(pid)?.ms ?? 0);
    return out;
  };
  // the cluster's WAL (pg_stat_wal): what the run wrote, per saga
  const walNow = async () => {
    const { Client } = require('pg');
    const client = new Client({ connectionString: base.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query('select wal_records::bigint as records, wal_bytes::bigint as bytes from pg_stat_wal');
      return { records: Number(rows[0].records), bytes: Number(rows[0].bytes) };
    } finally {
      await client.end();
    }
  };
  const walBefore = await walNow().catch(() => undefined);
  const backendsBefore = backendCpu();
  const infraBefore = infraCpuMs();
  const driverBefore = process.cpuUsage();

  let errors = 0;
  let sagas = 0;
  const confirmHttp = [];
  // everything here shares one event loop: its delay is part of every latency below
  const loopDelay = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const saga = async (student) => {
    const slotId = slotPool.pop();
    if (!slotId) return;
    const hold = await call('POST', '/api/v1/booking/hold', student.token, { slotId });
    if (hold.status !== 201) {
      errors += 1;
      return;
    }
    const t0 = process.hrtime.bigint();
    confirmSent.set(hold.body.id, t0);
    const confirm = await call('POST', `/api/v1/booking/${hold.body.id}/confirm`, student.token, {});
    confirmHttp.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (confirm.status >= 300) errors += 1;
    sagas += 1;
  };
  const settle = async (expected) => {
    const deadline = Date.now() + 30_000;
    while (toLesson.length + rejected < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };

  // BENCH_PROBE=1: the same authenticated reads direct at booking and through the gateway
  if (process.env.BENCH_PROBE) {
    const s0 = students[0];
    const h = await call('POST', '/api/v1/booking/hold', s0.token, { slotId: slotPool.pop() });
    const time = async (url) => {
      const xs = [];
      for (let i = 0; i < 50; i += 1) {
        const t = process.hrtime.bigint();
        await fetch(`${url}/api/v1/booking/${h.body.id}`, { headers: { authorization: `Bearer ${s0.token}` } }).then((r) => r.text());
        xs.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      return `p50 ${f(pct(xs, 50))} ms p95 ${f(pct(xs, 95))} ms`;
    };
    const booking = started.find((s) => s.name === 'booking');
    console.log(`probe GET booking direct: ${await time(booking.url)}; via gateway: ${await time(gateway.url)}`);
    const ts = [];
    for (let i = 0; i < 20; i += 1) {
      const t = process.hrtime.bigint();
      await fetch(`${booking.url}/health`).then((r) => r.text());
      ts.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    console.log(`probe GET /health direct: p50 ${f(pct(ts, 50))} ms`);
  }

  // The services' own view of each step (their histograms, phase 1 only): how much of a hop is
  // the service's handling (inbox to commit, or the HTTP request) and how much the way between.
  const SAGA_STEPS = [
    ['booking', 'http_request_duration_seconds', { route: '/api/v1/booking/:id/confirm' }, 'booking  confirm request'],
    ['billing', 'event_handler_duration_seconds', { type: 'booking.confirmation_requested' }, 'billing  debit handler'],
    ['booking', 'event_handler_duration_seconds', { type: 'billing.lesson.debited' }, 'booking  confirmed handler'],
    ['lessons', 'event_handler_duration_seconds', { type: 'booking.confirmed' }, 'lessons  lesson handler'],
  ];
  const histogram = async (name, metric, labels) => {
    const svc = started.find((x) => x.name === name);
    const text = svc ? await fetch(`${svc.url}/metrics`).then((r) => r.text(), () => '') : '';
    const out = { buckets: new Map(), sum: 0, count: 0 };
    for (const line of text.split('\n')) {
      const m = /^(\w+?)_(bucket|sum|count)\{(.*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== metric || !Object.entries(labels).every(([k, v]) => m[3].includes(`${k}="${v}"`))) continue;
      const value = Number(m[4]);
      if (m[2] === 'bucket') {
        const le = /le="([^"]+)"/.exec(m[3])[1];
        out.buckets.set(le, (out.buckets.get(le) ?? 0) + value);
      } else out[m[2]] += value;
    }
    return out;
  };
  const stepsNow = () => Promise.all(SAGA_STEPS.map(([name, metric, labels]) => histogram(name, metric, labels)));
  const printSteps = (before, after) => {
    SAGA_STEPS.forEach(([, , , label], i) => {
      const count = after[i].count - before[i].count;
      if (count <= 0) return;
      // the bucket the median falls in (the histograms' resolution)
      const les = [...after[i].buckets.keys()];
      const median = les.find((le) => after[i].buckets.get(le) - (before[i].buckets.get(le) ?? 0) >= count / 2);
      const upper = median === '+Inf' ? 'above the last bucket' : `≤ ${f(Number(median) * 1000)} ms`;
      console.log(`  ${label.padEnd(27)} mean ${f(((after[i].sum - before[i].sum) / count) * 1000)} ms, p50 ${upper}  (n=${count}, in the service)`);
    });
  };
  const stepsBefore = await stepsNow();

  // phase 1: fixed rate
  const t1 = Date.now();
  const inflight = [];
  for (let i = 0; i < RATE * SECONDS; i += 1) {
    const due = t1 + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(saga(students[i % students.length]));
  }
  await Promise.all(inflight);
  await settle(sagas);
  const stepsAfter = await stepsNow();
  const phase1 = { sagas, errors, rejected, confirmed: [...toConfirmed], lesson: [...toLesson], http: [...confirmHttp], hops: Object.fromEntries(Object.entries(hops).map(([k, v]) => [k, [...v]])) };
  confirmHttp.length = 0;
  for (const xs of Object.values(hops)) xs.length = 0;

  // phase 2: saturate
  toConfirmed.length = 0;
  toLesson.length = 0;
  sagas = 0;
  errors = 0;
  rejected = 0;
  const t2 = Date.now();
  const stopAt = t2 + SECONDS * 1000;
  await Promise.all(
    students.map(async (s) => {
      while (Date.now() < stopAt && slotPool.length) await saga(s);
    }),
  );
  const sent = sagas;
  const ranOut = slotPool.length === 0;
  await settle(sent);
  const elapsed = (Date.now() - t2) / 1000;

  const niced = [...background].filter((name) => services.includes(name));
  console.log(`\n${niced.length ? `${niced.join(' and ')} at nice ${BACKGROUND_NICE} (BACKGROUND_NICE)` : 'every service at the same CPU priority'}`);
  console.log(`phase 1: ${RATE} sagas/s offered for ${SECONDS} s — ${phase1.sagas} sagas, ${phase1.errors} HTTP errors, ${phase1.rejected} rejected`);
  console.log(`  confirm → booking.confirmed  p50 ${f(pct(phase1.confirmed, 50))} ms  p95 ${f(pct(phase1.confirmed, 95))} ms  p99 ${f(pct(phase1.confirmed, 99))} ms  (n=${phase1.confirmed.length})`);
  console.log(`  confirm → lesson.created     p50 ${f(pct(phase1.lesson, 50))} ms  p95 ${f(pct(phase1.lesson, 95))} ms  p99 ${f(pct(phase1.lesson, 99))} ms  (n=${phase1.lesson.length})`);
  console.log(`  event-loop delay p50 ${f(loopDelay.percentile(50) / 1e6)} ms  p99 ${f(loopDelay.percentile(99) / 1e6)} ms  max ${f(loopDelay.max / 1e6)} ms`);
  const printHops = (http, byType) => {
    console.log(`  confirm HTTP round trip                  p50 ${f(pct(http, 50))} ms  p95 ${f(pct(http, 95))} ms`);
    for (const [type, xs] of Object.entries(byType)) console.log(`  confirm → ${type.padEnd(30)} p50 ${f(pct(xs, 50))} ms  p95 ${f(pct(xs, 95))} ms`);
  };
  printHops(phase1.http, phase1.hops);
  printSteps(stepsBefore, stepsAfter);
  console.log(`phase 2: ${CONCURRENCY} students flat out for ${SECONDS} s — ${sent} sagas, ${(toLesson.length / elapsed).toFixed(1)} completed sagas/s (to lesson.created), ${errors} HTTP errors, ${rejected} rejected${ranOut ? ' — RAN OUT OF SLOTS before the end: raise BENCH_SLOTS' : ''}`);
  console.log(`  confirm → booking.confirmed  p50 ${f(pct(toConfirmed, 50))} ms  p95 ${f(pct(toConfirmed, 95))} ms  p99 ${f(pct(toConfirmed, 99))} ms`);
  console.log(`  confirm → lesson.created     p50 ${f(pct(toLesson, 50))} ms  p95 ${f(pct(toLesson, 95))} ms  p99 ${f(pct(toLesson, 99))} ms`);
  printHops(confirmHttp, hops);

  const allSagas = phase1.sagas + sent;
  const perSaga = cpuBefore.map(([name, before]) => {
    const svc = started.find((s) => s.name === name);
    return `${name} ${f((cpuMs(svc.pid) - before) / allSagas)}`;
  });
  const infraAfter = infraCpuMs();
  for (const k of Object.keys(infraAfter)) perSaga.push(`${k} ${f((infraAfter[k] - infraBefore[k]) / allSagas)}`);
  const driver = process.cpuUsage(driverBefore);
  if (perSaga.length) console.log(`CPU ms per saga (both phases, ${allSagas} sagas): ${perSaga.join(', ')}, load driver ${f((driver.user + driver.system) / 1000 / allSagas)}`);
  if (services.includes('notifications')) console.log(`e-mails the SMTP sink accepted during the phases: ${smtp.state.received.length - mailsBefore} (six per saga: held, confirmed and lesson created, to the student and to the teacher)`);

  // What a saga costs in all, work that trails it included (e-mails, read models): CPU from the
  // start of phase 1 until every queue is empty and the SMTP sink has taken nothing for 2 s.
  const drainStarted = Date.now();
  for (let quiet = 0, lastMails = -1; Date.now() - drainStarted < 180_000; ) {
    await new Promise((r) => setTimeout(r, 250));
    const mails = smtp.state.received.length;
    quiet = (await drained()) && mails === lastMails ? quiet + 250 : 0;
    lastMails = mails;
    if (quiet >= 2_000) break;
  }
  const drainSeconds = (Date.now() - drainStarted) / 1000 - 2;
  const totalPerSaga = cpuBefore.map(([name, before]) => `${name} ${f((cpuMs(started.find((s) => s.name === name).pid) - before) / allSagas)}`);
  const infraDrained = infraCpuMs();
  const backendsDrained = postgresByRole(backendsBefore, backendCpu());
  const walAfter = walBefore ? await walNow().catch(() => undefined) : undefined;
  for (const k of Object.keys(infraDrained)) totalPerSaga.push(`${k} ${f((infraDrained[k] - infraBefore[k]) / allSagas)}`);
  const sumOf = (parts) => parts.reduce((a, p) => a + Number(p.split(' ').pop()), 0);
  if (totalPerSaga.length) {
    console.log(`CPU ms per saga with the trailing work done (drained ${drainSeconds.toFixed(1)} s after the phases${services.includes('notifications') ? `, ${smtp.state.received.length - mailsBefore} e-mails in all` : ''}): ${totalPerSaga.join(', ')} — ${f(sumOf(totalPerSaga))} in all`);
    // what that means for this box: the share of its cores a steady RATE takes, and the rate that would fill them
    const cores = require('node:os').availableParallelism();
    const total = sumOf(totalPerSaga);
    if (walBefore && walAfter) console.log(`  WAL the whole cluster wrote per saga: ${f((walAfter.records - walBefore.records) / allSagas)} records, ${f((walAfter.bytes - walBefore.bytes) / allSagas / 1024)} kB`);
    console.log(`  postgres by the service it works for: ${Object.entries(backendsDrained).sort((a, b) => b[1] - a[1]).map(([role, ms]) => `${role} ${f(ms / allSagas)}`).join(', ')}`);
    console.log(`  on ${cores} cores: ${RATE} sagas/s would keep them ${f((total * RATE) / (10 * cores))} % busy; they are full at ${f((1000 * cores) / total)} sagas/s (load driver and SMTP sink not counted)`);
  }
  if (queryStats.size) {
    console.log(`\nqueries by statement, the measured phases and the trailing work (top 60; ${allSagas} sagas):`);
    for (const [k, n] of [...queryStats].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(String(n).padStart(8), k);
  }
  await conn.close();
  for (const s of started.reverse()) await s.stop();
  children.length = 0; // stopped: nothing for the exit handler to kill
  await smtp.close();
  // the private bus's queues and exchange go with the run, and the run's own database
  await testing.deleteBus(bus, services);
  if (!process.env.DATABASE_URL) await require('@guitaronline/platform').dropDatabase(base.DATABASE_URL);
  // the services' pools and timers are closed; exit in case a library keeps a handle
  process.exit(0);
}

// a run that fails, or is cut (Ctrl-C, a closed pipe), must not leave its service processes
// behind: they would hold the ports and the cores during the next run
const killChildren = () => {
  for (const child of children) {
    if (!child.pid || child.pid === process.pid) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
};
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGPIPE']) process.on(signal, () => process.exit(1));

main().catch(async (err) => {
  console.error(err);
  // the run's own database goes too (its services are killed first: they hold connections to it)
  killChildren();
  children.length = 0;
  if (runDatabase) await require('@guitaronline/platform').dropDatabase(runDatabase).catch(() => undefined);
  if (runBus) await require('@guitaronline/testing').deleteBus(runBus.bus, runBus.services).catch(() => undefined);
  process.exit(1);
});
