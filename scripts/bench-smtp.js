#!/usr/bin/env node
'use strict';
// npm run bench:smtp — e-mail delivery over SMTP as the notifications service sends it (its
// nodemailer pool options, three connections, 20 sends in flight like a worker batch) against a
// local SMTP server (smtp-server, the test sink) in a child process, with Nagle's algorithm on
// the client socket left on (nodemailer's default) and turned off (the service's getSocket), in
// the same run. Prints mails/s and the sender's CPU per mail; medians of BENCH_RUNS.
const { fork } = require('node:child_process');

if (process.argv[2] === 'sink') {
  const { startSmtp } = require('@guitaronline/testing');
  void startSmtp().then((smtp) => process.send(smtp.url));
  return;
}

const nodemailer = require('nodemailer');
const { smtpOptions } = require('../services/notifications/dist/src/channels/email-channel.js');

const MAILS = Number(process.env.BENCH_MAILS || 1000);
const RUNS = Number(process.env.BENCH_RUNS || 3);
const IN_FLIGHT = 20;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function run(url, noDelay) {
  const options = smtpOptions(url, 30_000);
  if (!noDelay) delete options.getSocket;
  const transport = nodemailer.createTransport(options);
  const body = 'Your lesson with Test teacher is booked for Monday 10:00 UTC.\n'.repeat(8);
  const started = Date.now();
  const cpu = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < MAILS) {
      const i = next++;
      await transport.sendMail({ from: 'GuitarOnline <no-reply@guitaronline.local>', to: `user${i}@example.test`, subject: 'Lesson booked', text: body, messageId: `<${i}-${started}@bench>` });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const ms = Date.now() - started;
  const used = process.cpuUsage(cpu);
  transport.close();
  return { perSecond: (MAILS / ms) * 1000, cpuMsPerMail: (used.user + used.system) / 1000 / MAILS };
}

async function main() {
  const sink = fork(process.argv[1], ['sink']);
  const url = await new Promise((resolve) => sink.once('message', resolve));
  const results = { on: [], off: [] };
  try {
    for (let r = 1; r <= RUNS; r++) {
      for (const [label, noDelay] of [['on', false], ['off', true]]) {
        const res = await run(url, noDelay);
        results[label].push(res);
        console.log(`run ${r}, Nagle ${label.padEnd(3)}: ${res.perSecond.toFixed(0)} mails/s, sender CPU ${res.cpuMsPerMail.toFixed(2)} ms/mail`);
      }
    }
  } finally {
    sink.kill();
  }
  const m = (label, key) => median(results[label].map((x) => x[key]));
  console.log(`\nmedians of ${RUNS} runs, ${MAILS} mails each, 3 pooled connections, ${IN_FLIGHT} in flight`);
  console.log(`Nagle on  (nodemailer default)   ${m('on', 'perSecond').toFixed(0)} mails/s, ${m('on', 'cpuMsPerMail').toFixed(2)} ms CPU/mail`);
  console.log(`Nagle off (the service's socket) ${m('off', 'perSecond').toFixed(0)} mails/s, ${m('off', 'cpuMsPerMail').toFixed(2)} ms CPU/mail`);
  console.log(`off / on                         ${(m('off', 'perSecond') / m('on', 'perSecond')).toFixed(1)}×`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
