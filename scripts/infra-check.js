'use strict';
// Checks that Postgres, RabbitMQ and Redis answer, and says how to start the ones that do not.
const net = require('node:net');

const HOW = {
  postgres:
    "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start  (or: docker compose up -d postgres)",
  rabbitmq: 'start it: rabbitmq-server -detached  (or: docker compose up -d rabbitmq)',
  redis:
    'start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no  (or: docker compose up -d redis)',
};

function reachable(urlString, defaultPort, timeoutMs = 2000) {
  return new Promise((resolve) => {
    let url;
    try {
      url = new URL(urlString);
    } catch {
      resolve(false);
      return;
    }
    const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || defaultPort) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function checkInfrastructure(env = process.env, want = {}) {
  const targets = [
    ['postgres', env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/guitaronline', 5432, want.postgres !== false],
    ['rabbitmq', env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672', 5672, want.amqp !== false],
    ['redis', env.REDIS_URL || 'redis://127.0.0.1:6379', 6379, want.redis !== false],
  ];
  const problems = [];
  await Promise.all(
    targets
      .filter(([, , , wanted]) => wanted)
      .map(async ([name, url, port]) => {
        if (!(await reachable(url, port))) {
          const u = new URL(url);
          problems.push(`${name} is not reachable at ${u.hostname}:${u.port || port}; ${HOW[name]}`);
        }
      }),
  );
  return problems;
}

module.exports = { checkInfrastructure, reachable };
