import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createMessagingTables, type Messaging } from '@guitaronline/messaging';
import { adminDb, baseEnvShape, createServiceDb, ensureServiceSchema, envPort, loadConfig, type Knex } from '@guitaronline/platform';
import { deleteBus, eventPublisher, eventually, isolatedBus, sleep, testEnv, testInfra } from '@guitaronline/testing';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { startService, type ServiceParts } from '../src';

const NAME = 'runtimetest';
const bus = isolatedBus();
const configSchema = z.object({ ...baseEnvShape, PORT: envPort.default(0), HOST: z.string().default('127.0.0.1') });
const openapi = () => ({ openapi: '3.1.0', info: { title: 'probe', version: '1' }, paths: {} }) as never;

function config(overrides: Record<string, string> = {}) {
  return loadConfig(configSchema, testEnv({ ...bus, HOST: '127.0.0.1', ...overrides }));
}

/** A service whose every part records what happens to it, in one timeline. */
function probe(overrides: Pick<ServiceParts<object>, 'background'> = {}) {
  const timeline: string[] = [];
  const seen: { db?: Knex; messaging?: Messaging } = {};
  const start = (env: Record<string, string> = {}) =>
    startService({
      name: NAME,
      config: config(env),
      openapi,
      compose: ({ db, onStop }) => {
        seen.db = db;
        onStop(() => timeline.push('smtp closed'));
        onStop(() => timeline.push('breakers closed'));
        return {
          handlers: { 'identity.user.registered': async () => undefined },
          routes(app, { messaging }) {
            seen.messaging = messaging;
            app.get('/hello', (_req, res) => {
              res.json({ hello: 'world' });
            });
          },
          background: [
            () => {
              timeline.push('sweep started');
              return { stop: async () => void timeline.push('sweep stopped') };
            },
            () => {
              timeline.push('worker started');
              return { stop: async () => void timeline.push('worker stopped') };
            },
          ],
          handle: { sweepOnce: () => 'swept' },
          ...overrides,
        };
      },
    });
  return { start, timeline, seen };
}

async function poolIsDestroyed(db: Knex | undefined) {
  await expect(db!.raw('select 1')).rejects.toThrow();
}

beforeAll(async () => {
  const admin = adminDb(testInfra().databaseUrl);
  await admin.raw(`drop schema if exists ${NAME} cascade`);
  await ensureServiceSchema(admin, NAME);
  await admin.destroy();
  const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: NAME });
  await createMessagingTables(db);
  await db.destroy();
});

afterAll(async () => {
  await deleteBus(bus, [NAME]);
  const admin = adminDb(testInfra().databaseUrl);
  await admin.raw(`drop schema if exists ${NAME} cascade`);
  await admin.destroy();
});

describe('startService', () => {
  test('when a service starts, then it is ready, serves its routes and /openapi.json, and its handle carries the wiring and its own hooks', async () => {
    const { start, timeline } = probe();
    const service = await start();
    try {
      expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
      expect(service.port).toBeGreaterThan(0);
      expect(service.config.EVENTS_EXCHANGE).toBe(bus.EVENTS_EXCHANGE);
      expect(service.sweepOnce()).toBe('swept');
      expect(await service.db.raw('select current_user as me').then((r) => r.rows[0].me)).toBe(`${NAME}_svc`);
      expect(service.messaging.consumer).toBeDefined();

      const ready = await fetch(`${service.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { postgres: 'ok', rabbitmq: 'ok' } });
      expect(await (await fetch(`${service.url}/hello`)).json()).toEqual({ hello: 'world' });
      expect(await (await fetch(`${service.url}/openapi.json`)).json()).toMatchObject({ info: { title: 'probe' } });
      expect((await fetch(`${service.url}/nowhere`)).status).toBe(404);
      expect(timeline).toEqual(['sweep started', 'worker started']);
    } finally {
      await service.stop();
    }
  });

  test('when CONSUMER_FAST_PATHS is false (a rolling update from a release without them), then the consumer leaves its fast paths aside and every event goes to its handler', async () => {
    const publisher = await eventPublisher(bus.EVENTS_EXCHANGE);
    const run = async (env: Record<string, string>) => {
      const calls: string[] = [];
      const service = await startService({
        name: NAME,
        config: config(env),
        openapi,
        compose: () => ({
          handlers: { 'identity.user.registered': async () => void calls.push('handler') },
          // a fast path that declines: the handler runs after it, so both show
          consumer: { fastPaths: { 'identity.user.registered': async () => (calls.push('fast path'), false) } },
          routes: () => undefined,
        }),
      });
      try {
        await publisher.publish('identity.user.registered', { userId: randomUUID(), email: 'fast@example.test', role: 'student', fullName: 'Fast Path' });
        await eventually(() => calls.includes('handler'));
        await sleep(100);
        return calls;
      } finally {
        await service.stop();
      }
    };
    try {
      expect(await run({})).toEqual(['fast path', 'handler']);
      expect(await run({ CONSUMER_FAST_PATHS: 'false' })).toEqual(['handler']);
    } finally {
      await publisher.close();
    }
  });

  test("when a request cannot be parsed (a garbage request line, a bad header), then the answer is 400 problem+json like any other refusal, not node's bare 400", async () => {
    const { start } = probe();
    const service = await start();
    try {
      const raw = (text: string) =>
        new Promise<string>((resolve, reject) => {
          let answer = '';
          const socket = net.connect(service.port, '127.0.0.1', () => socket.write(text));
          socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
          socket.on('close', () => resolve(answer));
          socket.on('error', reject);
        });
      for (const text of ['NOT AN HTTP REQUEST\r\n\r\n', 'GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n']) {
        const answer = await raw(text);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toContain('Content-Type: application/problem+json');
        expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 400, code: 'bad_request', requestId: expect.any(String) });
      }
    } finally {
      await service.stop();
    }
  });

  test('when it stops, then HTTP closes, the consumer stops before the jobs, the jobs before the relay drains, then its resources and the pool close; a second stop does nothing more', async () => {
    const { start, timeline } = probe();
    const service = await start();
    const consumerStop = service.messaging.consumer!.stop.bind(service.messaging.consumer);
    jest.spyOn(service.messaging.consumer!, 'stop').mockImplementation(() => (timeline.push('consumer stopped'), consumerStop()));
    const relayStop = service.messaging.relay.stop.bind(service.messaging.relay);
    jest.spyOn(service.messaging.relay, 'stop').mockImplementation(() => (timeline.push('relay drained'), relayStop()));
    timeline.length = 0;

    await Promise.all([service.stop(), service.stop()]);
    await service.stop();

    expect(timeline).toEqual(['consumer stopped', 'worker stopped', 'sweep stopped', 'consumer stopped', 'relay drained', 'breakers closed', 'smtp closed']);
    await expect(fetch(`${service.url}/health`)).rejects.toThrow();
    expect(service.messaging.connection.current).toBeUndefined();
    await poolIsDestroyed(service.db);
  });

  test('when the port is taken, then the start fails with the listen error and leaves nothing open: no job started, resources closed, broker connection closed, pool destroyed', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const { start, timeline, seen } = probe();
    try {
      await expect(start({ PORT: String(port) })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      blocker.close();
    }
    expect(timeline).toEqual(['breakers closed', 'smtp closed']);
    expect(seen.messaging!.connection.current).toBeUndefined();
    await poolIsDestroyed(seen.db);
  });

  test('when building the parts fails, then the start fails with that error and what was registered is closed and the pool destroyed', async () => {
    const timeline: string[] = [];
    let seenDb: Knex | undefined;
    await expect(
      startService({
        name: NAME,
        config: config(),
        openapi,
        compose: ({ db, onStop }) => {
          seenDb = db;
          onStop(() => timeline.push('transport closed'));
          throw new Error('no signing key');
        },
      }),
    ).rejects.toThrow('no signing key');
    expect(timeline).toEqual(['transport closed']);
    await poolIsDestroyed(seenDb);
  });

  test('when a background job fails to start, then the jobs already started are stopped and the start fails', async () => {
    const { start, timeline, seen } = probe({
      background: [
        () => {
          timeline.push('sweep started');
          return { stop: async () => void timeline.push('sweep stopped') };
        },
        () => {
          throw new Error('worker cannot start');
        },
      ],
    });
    await expect(start()).rejects.toThrow('worker cannot start');
    expect(timeline).toEqual(['sweep started', 'sweep stopped', 'breakers closed', 'smtp closed']);
    expect(seen.messaging!.connection.current).toBeUndefined();
    await poolIsDestroyed(seen.db);
  });
});
