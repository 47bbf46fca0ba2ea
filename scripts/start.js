#!/usr/bin/env node
'use strict';
// `npm start`: (after the build) checks Postgres/RabbitMQ/Redis, provisions the database,
// then runs every built service and the gateway as child processes with prefixed logs.
// The whole environment passes through; Ctrl-C stops everything. Notifications and admin run at
// a lower CPU priority (BACKGROUND_NICE, scripts/priorities.js).
const fs = require('node:fs');
const path = require('node:path');
const { concurrently } = require('concurrently');
const { checkInfrastructure } = require('./infra-check');
const { provision, root } = require('./provision-lib');
const { backgroundNice, serviceCommand } = require('./priorities');

const ORDER = ['identity', 'booking', 'billing', 'lessons', 'notifications', 'admin'];

function runnable() {
  const list = ORDER.map((name) => ({ name, entry: path.join('services', name, 'dist', 'src', 'main.js') }));
  list.push({ name: 'gateway', entry: path.join('gateway', 'dist', 'src', 'main.js') });
  return list.filter((s) => fs.existsSync(path.join(root, s.entry)));
}

async function main() {
  backgroundNice(process.env); // a bad BACKGROUND_NICE stops it here, before anything starts
  const problems = await checkInfrastructure(process.env);
  if (problems.length) {
    process.stderr.write(`Cannot start GuitarOnline:\n  - ${problems.join('\n  - ')}\n`);
    process.exit(1);
  }
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline';
  await provision({ databaseUrl, log: (line) => process.stdout.write(`[provision] ${line}\n`) });
  const services = runnable();
  if (services.length === 0) {
    process.stderr.write('Nothing is built: run `npm run build` first.\n');
    process.exit(1);
  }
  process.stdout.write(`starting ${services.map((s) => s.name).join(', ')}\n`);
  const { result } = concurrently(
    services.map((s) => ({ name: s.name, command: serviceCommand(s.name, s.entry), env: process.env, cwd: root })),
    { prefix: 'name', padPrefix: true, killOthersOn: ['failure'], prefixColors: 'auto', handleInput: false },
  );
  result.then(
    () => process.exit(0),
    () => process.exit(1),
  );
}

main().catch((err) => {
  process.stderr.write(`start failed: ${err.message}\n`);
  process.exit(1);
});
