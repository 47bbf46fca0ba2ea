import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import knexFactory, { type Knex } from 'knex';
import { eventCatalogue, validatePayload, type DomainEvent, type EventPayload, type EventType } from '@guitaronline/contracts';
import { adminDb, createServiceDb, ensureDatabase, ensureServiceSchema, migrateService } from '@guitaronline/platform';
import { deleteBus, isolatedBus, startSmtp, startTestIssuer, testEnv, testInfra, type TestIssuer } from '@guitaronline/testing';
import { migrations } from '../migrations';
import { start, type NotificationsService, type StartDeps } from '../src/main';

export interface TestDatabase {
  url: string;
  knex: Knex;
  /** Empties every table: each test starts from nothing. */
  reset(): Promise<void>;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file: the service instances a file starts work on a
 * delivery schedule no other suite (or earlier run) can touch, so counts are exact and no
 * worker sends another suite's mail to the wrong SMTP server. Tests of a file run one after
 * another and `reset()` between them.
 */
export async function freshDatabase(): Promise<TestDatabase> {
  const base = testInfra().databaseUrl;
  const name = `gotest_notif_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  await ensureDatabase(url.toString());
  const admin = adminDb(url.toString());
  try {
    await ensureServiceSchema(admin, 'notifications');
  } finally {
    await admin.destroy();
  }
  const svc = createServiceDb({ databaseUrl: url.toString(), schema: 'notifications', pool: { min: 0, max: 1 } });
  try {
    await migrateService(svc, 'notifications', migrations);
  } finally {
    await svc.destroy();
  }
  // the test's own look into the schema (as the superuser)
  const knex = knexFactory({ client: 'pg', connection: url.toString(), searchPath: ['notifications'], pool: { min: 0, max: 2 } });
  return {
    url: url.toString(),
    knex,
    async reset() {
      await knex.raw('truncate delivery_attempts, deliveries, notifications, webhook_subscriptions, recipients, outbox, inbox');
    },
    async drop() {
      await knex.destroy();
      const root = adminDb(base);
      try {
        await root.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await root.destroy();
      }
    },
  };
}

export { startSmtp, type ReceivedMail, type SmtpAttempt } from '@guitaronline/testing';

export interface ReceivedHook {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A local webhook receiver: records every POST and answers with `respond()`'s status. */
export async function startReceiver(respond: (n: number) => number | 'hang' = () => 200) {
  const received: ReceivedHook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const status = respond(received.length);
      if (status === 'hang') return; // never answers: the sender's timeout must fire
      res.statusCode = status;
      res.end(status >= 400 ? 'nope' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    url: `http://127.0.0.1:${port}/hooks`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An event envelope as its producer would publish it (payload validated against the catalogue). */
export function makeEvent<T extends EventType>(type: T, payload: EventPayload<T>, aggregateId?: string): DomainEvent<T> {
  return {
    id: randomUUID(),
    type,
    version: eventCatalogue[type].version,
    occurredAt: new Date().toISOString(),
    source: eventCatalogue[type].producer,
    correlationId: randomUUID(),
    causationId: null,
    aggregateId: aggregateId ?? randomUUID(),
    payload: validatePayload(type, payload),
  } as unknown as DomainEvent<T>;
}

export function registered(role: 'student' | 'teacher', userId = randomUUID()) {
  return makeEvent('identity.user.registered', { userId, email: `${role}-${userId.slice(0, 8)}@example.test`, role, fullName: `Test ${role}` }, userId);
}

export function bookingConfirmed(studentId: string, teacherId: string) {
  const start = new Date(Date.now() + 3 * 86_400_000);
  start.setUTCMinutes(0, 0, 0);
  return makeEvent('booking.confirmed', {
    bookingId: randomUUID(),
    slotId: randomUUID(),
    teacherId,
    studentId,
    packageId: randomUUID(),
    startAt: start.toISOString(),
    endAt: new Date(start.getTime() + 3_600_000).toISOString(),
  });
}

/** Publishes envelopes on a test bus the way the outbox relay does (confirmed, persistent). */
export async function createPublisher(exchange: string) {
  const connection = await amqp.connect(testInfra().amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  return {
    async publish(...events: DomainEvent[]) {
      for (const e of events) {
        channel.publish(exchange, e.type, Buffer.from(JSON.stringify(e)), {
          persistent: true,
          contentType: 'application/json',
          messageId: e.id,
          type: e.type,
          correlationId: e.correlationId,
        });
      }
      await channel.waitForConfirms();
    },
    close: () => connection.close().catch(() => undefined),
  };
}

/** Fast defaults for tests: small backoff, short worker sleeps, a breaker that stays out of the way. */
export const fastDelivery = {
  NOTIFY_BACKOFF_BASE_MS: '20',
  NOTIFY_BACKOFF_MAX_MS: '2000',
  NOTIFY_WORKER_INTERVAL_MS: '50',
  NOTIFY_BREAKER_VOLUME_THRESHOLD: '1000',
  NOTIFY_SEND_LEASE_MS: '200000',
  SMTP_TIMEOUT_MS: '5000',
  WEBHOOK_TIMEOUT_MS: '2000',
};

/**
 * Everything one test needs: a fresh database, its own bus, a real SMTP server, a publisher,
 * and a running notifications service (restartable with the same database and bus).
 */
export async function setup(issuer: TestIssuer, database: TestDatabase, overrides: Record<string, string> = {}, deps: StartDeps = {}) {
  const bus = isolatedBus();
  await database.reset();
  const smtp = await startSmtp();
  const publisher = await createPublisher(bus.EVENTS_EXCHANGE);
  const env = testEnv({
    ...bus,
    ...fastDelivery,
    DATABASE_URL: database.url,
    SMTP_URL: smtp.url,
    IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
    ...overrides,
  });
  const fx = {
    bus,
    database,
    db: database.knex,
    smtp,
    publisher,
    env,
    service: undefined as NotificationsService | undefined,
    async startService(extra: Record<string, string> = {}, deps: StartDeps = {}) {
      fx.service = await start({ ...env, ...extra }, deps);
      return fx.service;
    },
    get url() {
      if (!fx.service) throw new Error('service not started');
      return fx.service.url;
    },
    async cleanup() {
      await fx.service?.stop().catch(() => undefined);
      await publisher.close();
      await smtp.close();
      await deleteBus(bus, ['notifications']);
    },
  };
  await fx.startService({}, deps);
  return fx;
}

export { startTestIssuer };
export type Fixture = Awaited<ReturnType<typeof setup>>;

/** A clock that stands still until the test moves it. */
export function manualClock(start = Date.now()) {
  let now = start;
  return {
    clock: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}
