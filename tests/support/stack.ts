import { randomUUID } from 'node:crypto';
import { apiCall, deleteBus, isolatedBus, privateDatabase, testEnv, type ApiCallOptions } from '@guitaronline/testing';
import { start as startIdentity } from '../../services/identity/src/main';
import { runCreateAdmin } from '../../services/identity/src/cli/create-admin';
import { start as startBooking } from '../../services/booking/src/main';
import { start as startBilling } from '../../services/billing/src/main';
import { start as startLessons } from '../../services/lessons/src/main';
import { start as startNotifications } from '../../services/notifications/src/main';
import { start as startAdmin } from '../../services/admin/src/main';
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

export interface SagaStackOptions {
  env?: Record<string, string>;
  /** Also start notifications, with these variables (e.g. SMTP_URL of a test SMTP server). */
  withNotifications?: Record<string, string>;
  /** Also start admin (read models, traces, ops overview). */
  withAdmin?: boolean;
}

/**
 * The booking saga's services (identity, booking, billing, lessons), optionally notifications
 * and admin, and the gateway, started in-process on port 0 against the real Postgres,
 * RabbitMQ and Redis, on a private event bus and a private database.
 */
export async function startSagaStack(options: SagaStackOptions = {}) {
  const bus = isolatedBus();
  const time = controllableClock();
  const started: Stopper[] = [];
  const byName = new Map<string, Stopper>();
  const services = ['identity', 'booking', 'billing', 'lessons'];
  if (options.withNotifications) services.push('notifications');
  if (options.withAdmin) services.push('admin');
  const database = await privateDatabase(services);
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
    byName.set('identity', identity).set('booking', booking).set('billing', billing).set('lessons', lessons);
    const notifications = options.withNotifications ? await startNotifications(testEnv({ ...env, ...options.withNotifications }), { clock: time.clock }) : undefined;
    if (notifications) {
      started.push(notifications);
      byName.set('notifications', notifications);
    }
    const admin = options.withAdmin
      ? await startAdmin(
          testEnv({
            ...env,
            BOOKING_URL: booking.url,
            BILLING_URL: billing.url,
            LESSONS_URL: lessons.url,
            NOTIFICATIONS_URL: notifications?.url ?? 'http://127.0.0.1:9',
            OPS_TIMEOUT_MS: '1000',
          }),
          { clock: time.clock },
        )
      : undefined;
    if (admin) {
      started.push(admin);
      byName.set('admin', admin);
    }
    const gateway = await startGateway(
      testEnv({
        ...base,
        IDENTITY_URL: identity.url,
        BOOKING_URL: booking.url,
        BILLING_URL: billing.url,
        LESSONS_URL: lessons.url,
        NOTIFICATIONS_URL: notifications?.url ?? 'http://127.0.0.1:9',
        ADMIN_URL: admin?.url ?? 'http://127.0.0.1:9',
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
      /** Stops one service (e.g. to see it reported as degraded); `stop()` skips it later. */
      async stopService(name: string) {
        const service = byName.get(name);
        if (!service) throw new Error(`${name} is not part of this stack`);
        await service.stop();
        started.splice(started.indexOf(service), 1);
        byName.delete(name);
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
  const call = (method: string, path: string, options: ApiCallOptions = {}) => apiCall(baseUrl, method, path, options);
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
