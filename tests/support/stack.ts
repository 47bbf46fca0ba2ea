import { randomUUID } from 'node:crypto';
import knexFactory from 'knex';
import { deleteBus, isolatedBus, testEnv, testInfra } from '@guitaronline/testing';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { provision } = require('../../scripts/provision-lib') as { provision(o: { databaseUrl: string; services?: string[] }): Promise<string[]> };
import { start as startIdentity } from '../../services/identity/src/main';
import { runCreateAdmin } from '../../services/identity/src/cli/create-admin';
import { start as startBooking } from '../../services/booking/src/main';
import { start as startBilling } from '../../services/billing/src/main';
import { start as startLessons } from '../../services/lessons/src/main';
import { start as startGateway } from '../../gateway/src/main';

/** A clock the test moves forward, shared by every service of the stack. */
export function controllableClock() {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  return { clock, advance: (ms: number) => (offsetMs += ms), reset: () => (offsetMs = 0) };
}

interface Stopper {
  stop(): Promise<void>;
}

/**
 * A private database for one suite, provisioned with the given services' roles, schemas and
 * (built) migrations. Instances of a service on one schema are replicas sharing an outbox, so
 * suites that start the same service must not share a database.
 */
export async function privateDatabase(services: string[]) {
  const url = new URL(testInfra().databaseUrl);
  const name = `gotest_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  url.pathname = `/${name}`;
  await provision({ databaseUrl: url.toString(), services });
  return {
    url: url.toString(),
    async drop() {
      const server = new URL(url);
      server.pathname = '/postgres';
      const admin = knexFactory({ client: 'pg', connection: server.toString(), pool: { min: 0, max: 1 } });
      try {
        await admin.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.destroy();
      }
    },
  };
}

/**
 * The booking saga's services (identity, booking, billing, lessons) and the gateway, started
 * in-process on port 0 against the real Postgres, RabbitMQ and Redis, on a private event bus.
 */
export async function startSagaStack(options: { env?: Record<string, string> } = {}) {
  const bus = isolatedBus();
  const time = controllableClock();
  const started: Stopper[] = [];
  const database = await privateDatabase(['identity', 'booking', 'billing', 'lessons']);
  const base = { ...bus, DATABASE_URL: database.url, ...options.env };
  try {
    const identity = await startIdentity(testEnv(base), { clock: time.clock });
    started.push(identity);
    const env = testEnv({ ...base, IDENTITY_URL: identity.url });
    const booking = await startBooking(env, { clock: time.clock });
    started.push(booking);
    const billing = await startBilling(env, { clock: time.clock });
    started.push(billing);
    const lessons = await startLessons(env, { clock: time.clock });
    started.push(lessons);
    const gateway = await startGateway(
      testEnv({
        ...base,
        IDENTITY_URL: identity.url,
        BOOKING_URL: booking.url,
        BILLING_URL: billing.url,
        LESSONS_URL: lessons.url,
        NOTIFICATIONS_URL: 'http://127.0.0.1:9',
        ADMIN_URL: 'http://127.0.0.1:9',
        AUTH_RATE_LIMIT_REDIS_NAMESPACE: `rl-test-${randomUUID()}`,
        AUTH_RATE_LIMIT_REGISTER_REQUESTS: '100000',
        AUTH_RATE_LIMIT_LOGIN_REQUESTS: '100000',
        AUTH_RATE_LIMIT_REFRESH_REQUESTS: '100000',
        API_RATE_LIMIT_REQUESTS: '1000000',
      }),
    );
    started.push(gateway);
    return {
      url: gateway.url,
      identityUrl: identity.url,
      time,
      bus,
      async createAdmin() {
        const email = `admin-${randomUUID()}@example.test`;
        const password = 'admin-password-1';
        const code = await runCreateAdmin(['--email', email, '--password', password], testEnv(base), { out: () => undefined, err: () => undefined });
        if (code !== 0) throw new Error(`admin:create exited ${code}`);
        return { email, password };
      },
      async stop() {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
        await deleteBus(bus, ['identity', 'booking', 'billing', 'lessons', 'notifications', 'admin']);
        await database.drop();
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    await database.drop().catch(() => undefined);
    throw err;
  }
}

export type SagaStack = Awaited<ReturnType<typeof startSagaStack>>;

/** A small client for the public API through the gateway. */
export function apiClient(baseUrl: string) {
  async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    let body: any = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers };
  }
  async function register(role: 'student' | 'teacher') {
    const email = `${role}-${randomUUID()}@example.test`;
    const password = 'correct-horse-battery';
    const reg = await call('POST', '/api/v1/identity/auth/register', { body: { email, password, fullName: `Test ${role}`, role } });
    if (reg.status !== 201) throw new Error(`register ${reg.status} ${JSON.stringify(reg.body)}`);
    return { ...(await login(email, password)), id: reg.body.id as string, email };
  }
  async function login(email: string, password: string) {
    const res = await call('POST', '/api/v1/identity/auth/login', { body: { email, password } });
    if (res.status !== 200) throw new Error(`login ${res.status} ${JSON.stringify(res.body)}`);
    return { token: res.body.accessToken as string };
  }
  return { call, register, login };
}
