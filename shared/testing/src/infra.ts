/** Where the tests find Postgres, RabbitMQ and Redis (set by the jest global setup). */
export function testInfra() {
  return {
    databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/guitaronline_test',
    amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/**
 * Environment for starting a service in-process in a test: the real infrastructure, a
 * per-test exchange when isolation from other suites matters, and fast bcrypt.
 */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const infra = testInfra();
  return {
    APP_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: infra.databaseUrl,
    AMQP_URL: infra.amqpUrl,
    REDIS_URL: infra.redisUrl,
    BCRYPT_COST: '4',
    PORT: '0',
    ...overrides,
  };
}

/**
 * A private event bus for one test file: its own exchange and queue-name prefix, so services
 * started by parallel suites never consume each other's events. Pass to every service the
 * file starts, then `deleteBus` at the end.
 */
export function isolatedBus(): { EVENTS_EXCHANGE: string; EVENTS_QUEUE_PREFIX: string } {
  const id = Math.random().toString(36).slice(2, 10);
  return { EVENTS_EXCHANGE: `test.${id}.events`, EVENTS_QUEUE_PREFIX: `t${id}.` };
}
