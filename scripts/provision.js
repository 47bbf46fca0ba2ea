#!/usr/bin/env node
'use strict';
const { provision } = require('./provision-lib');
const { checkInfrastructure } = require('./infra-check');

async function main() {
  const env = process.env;
  const databaseUrl = env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline';
  const problems = await checkInfrastructure(env, { redis: false, amqp: false });
  if (problems.length) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.exit(1);
  }
  await provision({ databaseUrl, log: (line) => process.stdout.write(`provision: ${line}\n`) });
}

main().catch((err) => {
  process.stderr.write(`provision failed: ${err.message}\n`);
  process.exit(1);
});
