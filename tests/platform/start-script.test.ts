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

describe('CPU priority of the trailing services (scripts/priorities.js)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { serviceCommand, backgroundNice } = require('../../scripts/priorities.js') as {
    serviceCommand: (name: string, entry: string, env: Record<string, string | undefined>, platform?: string) => string;
    backgroundNice: (env: Record<string, string | undefined>) => number;
  };

  test('notifications and admin run at nice 10 by default, BACKGROUND_NICE sets it, 0 turns it off; the request path is never niced', () => {
    expect(serviceCommand('notifications', 'services/notifications/dist/src/main.js', {}, 'linux')).toBe('nice -n 10 node services/notifications/dist/src/main.js');
    expect(serviceCommand('admin', 'a.js', { BACKGROUND_NICE: '19' }, 'linux')).toBe('nice -n 19 node a.js');
    expect(serviceCommand('admin', 'a.js', { BACKGROUND_NICE: '0' }, 'linux')).toBe('node a.js');
    for (const name of ['gateway', 'identity', 'booking', 'billing', 'lessons']) expect(serviceCommand(name, 'x.js', { BACKGROUND_NICE: '19' }, 'linux')).toBe('node x.js');
    expect(serviceCommand('notifications', 'n.js', {}, 'win32')).toBe('node n.js');
  });

  test('a BACKGROUND_NICE that is not 0–19 is refused with its name, and npm start stops before starting anything', () => {
    for (const bad of ['-1', '20', '2.5', 'high']) expect(() => backgroundNice({ BACKGROUND_NICE: bad })).toThrow(/BACKGROUND_NICE/);
    const result = spawnSync(process.execPath, ['scripts/start.js'], { cwd: root, env: { ...process.env, BACKGROUND_NICE: 'high' }, encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("BACKGROUND_NICE must be an integer from 0 to 19, not 'high'");
  });
});
