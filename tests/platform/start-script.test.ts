import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

describe('npm start without infrastructure', () => {
  test('when Postgres, RabbitMQ and Redis are unreachable, it names each with how to start it and exits non-zero', () => {
    const result = spawnSync(process.execPath, ['scripts/start.js'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: 'postgres://postgres@127.0.0.1:1/guitaronline',
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:2',
        REDIS_URL: 'redis://127.0.0.1:3',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('postgres is not reachable at 127.0.0.1:1');
    expect(result.stderr).toContain('rabbitmq is not reachable at 127.0.0.1:2');
    expect(result.stderr).toContain('redis is not reachable at 127.0.0.1:3');
    expect(result.stderr).toContain('rabbitmq-server -detached');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
