#!/usr/bin/env node
'use strict';
// npm run bench:frames — what writing a turn's AMQP frames together saves (platform
// coalesceWrites, which BrokerConnection applies to amqplib's socket). Publishes BENCH_MESSAGES
// persistent 300-byte messages in confirmed bursts of 100 (as the relay does), then consumes
// them with prefetch 100 and an ack each (as a consumer does), once over a plain amqplib
// connection (a write per frame) and once coalesced, alternating over BENCH_RUNS rounds.
// Prints the client's and the broker's CPU per message and the elapsed time; medians.
const fs = require('node:fs');
const amqp = require('amqplib');
const { coalesceWrites } = require('../shared/platform/dist');

const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const MESSAGES = Number(process.env.BENCH_MESSAGES || 20000);
const RUNS = Number(process.env.BENCH_RUNS || 4);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** CPU ms of the local RabbitMQ (its beam processes), from /proc; 0 where /proc does not tell. */
function brokerCpuMs() {
  let ms = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('beam')) continue;
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the process ended meanwhile
    }
  }
  return ms;
}

async function run(coalesce) {
  const conn = await amqp.connect(AMQP_URL, { noDelay: true });
  if (coalesce) coalesceWrites(conn.connection.stream);
  const channel = await conn.createConfirmChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpuMs();
  const t0 = process.hrtime.bigint();
  const body = Buffer.alloc(300, 'x');
  for (let i = 0; i < MESSAGES; i += 100) {
    for (let j = 0; j < 100; j += 1) channel.sendToQueue(queue, body, { persistent: true });
    await channel.waitForConfirms();
  }
  await channel.prefetch(100);
  let got = 0;
  await new Promise((resolve) =>
    channel.consume(queue, (msg) => {
      channel.ack(msg);
      got += 1;
      if (got === MESSAGES) resolve();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const result = {
    clientUs: (cpu.user + cpu.system) / MESSAGES,
    brokerUs: ((brokerCpuMs() - broker0) * 1000) / MESSAGES,
    ms: Number(process.hrtime.bigint() - t0) / 1e6,
  };
  await conn.close();
  return result;
}

(async () => {
  const results = { plain: [], coalesced: [] };
  for (let round = 1; round <= RUNS; round += 1) {
    for (const [label, coalesce] of [['plain', false], ['coalesced', true]]) {
      const r = await run(coalesce);
      results[label].push(r);
      console.log(`run ${round}, ${label.padEnd(9)}: client ${r.clientUs.toFixed(1)} µs/msg, broker ${r.brokerUs.toFixed(1)} µs/msg, ${r.ms.toFixed(0)} ms`);
    }
  }
  const m = (label, key) => median(results[label].map((r) => r[key]));
  console.log(`\nmedians of ${RUNS} runs, ${MESSAGES} messages published (bursts of 100, confirmed) and consumed (ack each)`);
  for (const label of ['plain', 'coalesced']) {
    console.log(`${label.padEnd(10)} client ${m(label, 'clientUs').toFixed(1)} µs/msg, broker ${m(label, 'brokerUs').toFixed(1)} µs/msg, ${m(label, 'ms').toFixed(0)} ms`);
  }
  console.log(`coalesced / plain: client ${(m('coalesced', 'clientUs') / m('plain', 'clientUs')).toFixed(2)}×, broker ${(m('coalesced', 'brokerUs') / m('plain', 'brokerUs')).toFixed(2)}×, time ${(m('coalesced', 'ms') / m('plain', 'ms')).toFixed(2)}×`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
