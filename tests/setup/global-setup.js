'use strict';
// Jest global setup: find Postgres, RabbitMQ and Redis (environment or localhost; else
// testcontainers where a Docker engine exists; else fail at once saying how to start them),
// then provision the test database with every built service's schema and migrations.
const fs = require('node:fs');
const { checkInfrastructure } = require('../../scripts/infra-check');
const { provision } = require('../../scripts/provision-lib');

function dockerAvailable() {
  return fs.existsSync('/var/run/docker.sock') || Boolean(process.env.DOCKER_HOST);
}

async function startContainers(missing) {
  const tc = require('testcontainers');
  const started = [];
  if (missing.includes('postgres')) {
    const c = await new tc.GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    process.env.DATABASE_URL = `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/guitaronline_test`;
    started.push(c);
  }
  if (missing.includes('rabbitmq')) {
    const c = await new tc.GenericContainer('rabbitmq:3.13-management-alpine').withExposedPorts(5672, 15672).withWaitStrategy(tc.Wait.forLogMessage(/Server startup complete/)).start();
    process.env.AMQP_URL = `amqp://guest:guest@${c.getHost()}:${c.getMappedPort(5672)}`;
    started.push(c);
  }
  if (missing.includes('redis')) {
    const c = await new tc.GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    process.env.REDIS_URL = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
    started.push(c);
  }
  globalThis.__GUITARONLINE_CONTAINERS__ = started;
}

module.exports = async function globalSetup() {
  process.env.APP_ENV = process.env.APP_ENV || 'test';
  if (!process.env.DATABASE_URL) {
    // a fresh database per run: no migration state left behind by another checkout or run
    const name = `guitaronline_test_${Date.now().toString(36)}_${process.pid}`;
    process.env.DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${name}`;
    globalThis.__GUITARONLINE_RUN_DATABASE__ = process.env.DATABASE_URL;
  }
  let problems = await checkInfrastructure(process.env);
  if (problems.length && dockerAvailable()) {
    await startContainers(problems.map((p) => p.split(' ')[0]));
    problems = await checkInfrastructure(process.env);
  }
  if (problems.length) {
    throw new Error(`Test infrastructure is missing:\n  - ${problems.join('\n  - ')}\n(or set DATABASE_URL / AMQP_URL / REDIS_URL)`);
  }
  await provision({ databaseUrl: process.env.DATABASE_URL });
};
