import net from 'node:net';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import type { RunningGateway } from '../src/main';
import { bearer, request, startGateway, startStubs, stopStubs, upstreamEnv, type Stubs } from './helpers';

let issuer: TestIssuer;
let stubs: Stubs;
const gateways: RunningGateway[] = [];

beforeAll(async () => {
  issuer = await startTestIssuer();
  stubs = await startStubs(issuer);
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await stopStubs(stubs);
  await issuer?.close();
});

async function gateway(overrides: Record<string, string | undefined> = {}): Promise<RunningGateway> {
  const g = await startGateway({ ...upstreamEnv(stubs), ...overrides });
  gateways.push(g);
  return g;
}

const login = (g: RunningGateway, headers: Record<string, string> = {}, path = '/api/v1/identity/auth/login') =>
  request(g.url, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"email":"a@example.com","password":"pw"}' });

describe('per-IP limits on register, login and refresh', () => {
  test('when one IP sends more logins than the limit in a window, then the next one is 429 rate_limited with Retry-After and RateLimit headers', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '3' });
    const before = stubs.identity.seen.length;
    const first = await login(g);
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    await login(g);
    await login(g);
    const refused = await login(g);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ code: 'rate_limited', status: 429, requestId: refused.headers['x-request-id'] });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-limit']).toBe('3');
    expect(refused.headers['ratelimit-remaining']).toBe('0');
    expect(Number(refused.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
    expect(stubs.identity.seen.length).toBe(before + 3);
  });

  test('when register and refresh have their own limits, then each is counted separately from login', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_REGISTER_REQUESTS: '1', AUTH_RATE_LIMIT_REFRESH_REQUESTS: '2', AUTH_RATE_LIMIT_LOGIN_REQUESTS: '5' });
    const post = (path: string) => request(g.url, path, { method: 'POST', body: '{}' });
    expect((await post('/api/v1/identity/auth/register')).status).toBe(200);
    expect((await post('/api/v1/identity/auth/register')).status).toBe(429);
    expect((await post('/api/v1/identity/auth/refresh')).status).toBe(200);
    expect((await post('/api/v1/identity/auth/refresh')).status).toBe(200);
    expect((await post('/api/v1/identity/auth/refresh')).status).toBe(429);
    expect((await post('/api/v1/identity/auth/login')).status).toBe(200);
  });

  test('when the login path is spelled in another case or with a trailing slash, then it still counts against the login limit', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '2' });
    expect((await login(g, {}, '/API/V1/IDENTITY/AUTH/LOGIN')).status).toBe(200);
    expect((await login(g, {}, '/api/v1/identity/auth/login/')).status).toBe(200);
    expect((await login(g, {}, '/api/v1/identity/auth/Login')).status).toBe(429);
  });

  test('when the peer is a trusted proxy, then each X-Forwarded-For client has its own bucket', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '2', AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: '127.0.0.1' });
    const a = { 'x-forwarded-for': '198.51.100.1' };
    expect((await login(g, a)).status).toBe(200);
    expect((await login(g, a)).status).toBe(200);
    expect((await login(g, a)).status).toBe(429);
    // the right-most untrusted entry is the client; what it wrote to its left is ignored
    expect((await login(g, { 'x-forwarded-for': '203.0.113.50, 198.51.100.1' })).status).toBe(429);
    const b = { 'x-forwarded-for': '198.51.100.2' };
    expect((await login(g, b)).status).toBe(200);
    expect((await login(g, { 'x-forwarded-for': '198.51.100.2, 127.0.0.1' })).status).toBe(200); // a trusted hop is skipped
    expect((await login(g, b)).status).toBe(429);
  });

  test('when the peer is not a trusted proxy, then its X-Forwarded-For is ignored and every request counts against the peer', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '2', AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: '' });
    expect((await login(g, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
    expect((await login(g, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(200);
    expect((await login(g, { 'x-forwarded-for': '198.51.100.3' })).status).toBe(429);
  });

  test('when two gateway replicas share Redis, then they share the counts', async () => {
    const namespace = `shared-${randomUUID()}`;
    const a = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '4', AUTH_RATE_LIMIT_REDIS_NAMESPACE: namespace });
    const b = await gateway({ AUTH_RATE_LIMIT_LOGIN_REQUESTS: '4', AUTH_RATE_LIMIT_REDIS_NAMESPACE: namespace });
    expect((await login(a)).status).toBe(200);
    expect((await login(b)).status).toBe(200);
    expect((await login(a)).status).toBe(200);
    expect((await login(b)).status).toBe(200);
    expect((await login(a)).status).toBe(429);
    expect((await login(b)).status).toBe(429);
  });
});

describe('per-user limit', () => {
  test('when a user sends more requests than API_RATE_LIMIT_REQUESTS, then the next is 429 and another user is unaffected', async () => {
    const g = await gateway({ API_RATE_LIMIT_REQUESTS: '3' });
    const alice = bearer(issuer.token({ role: 'student' }));
    const bob = bearer(issuer.token({ role: 'student' }));
    const first = await request(g.url, '/api/v1/lessons/my', { headers: alice });
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    await request(g.url, '/api/v1/booking/my', { headers: alice });
    await request(g.url, '/api/v1/billing/packages/my', { headers: alice });
    const before = stubs.lessons.seen.length;
    const refused = await request(g.url, '/api/v1/lessons/my', { headers: alice });
    expect(refused.status).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(stubs.lessons.seen.length).toBe(before);
    expect((await request(g.url, '/api/v1/lessons/my', { headers: bob })).status).toBe(200);
  });

  test('when a second token of the same user is used, then it shares the user bucket', async () => {
    const g = await gateway({ API_RATE_LIMIT_REQUESTS: '2' });
    const sub = randomUUID();
    expect((await request(g.url, '/api/v1/lessons/my', { headers: bearer(issuer.token({ sub, role: 'student' })) })).status).toBe(200);
    expect((await request(g.url, '/api/v1/lessons/my', { headers: bearer(issuer.token({ sub, role: 'student', email: 'x@example.com' })) })).status).toBe(200);
    expect((await request(g.url, '/api/v1/lessons/my', { headers: bearer(issuer.token({ sub, role: 'student' })) })).status).toBe(429);
  });
});

describe('per-user limit counted per replica and added to Redis in groups', () => {
  const redisUrl = () => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

  test("when requests are let through, then Redis hears of a user's first one at once and of the rest in groups of API_RATE_LIMIT_SYNC_EVERY", async () => {
    const namespace = `synced-${randomUUID()}`;
    const g = await gateway({ AUTH_RATE_LIMIT_REDIS_NAMESPACE: namespace, API_RATE_LIMIT_REQUESTS: '50', API_RATE_LIMIT_SYNC_EVERY: '5', API_RATE_LIMIT_SYNC_MS: '60000' });
    const sub = randomUUID();
    const user = bearer(issuer.token({ sub, role: 'student' }));
    const redis = new Redis(redisUrl());
    try {
      const counted = async () => Number(await redis.get(`${namespace}:user:${sub}`));
      for (let i = 0; i < 3; i++) expect((await request(g.url, '/api/v1/lessons/my', { headers: user })).status).toBe(200);
      expect(await counted()).toBe(1);
      let last;
      for (let i = 0; i < 3; i++) last = await request(g.url, '/api/v1/lessons/my', { headers: user });
      expect(await counted()).toBe(6); // the sixth request took the five since the first
      expect(last!.headers['ratelimit-remaining']).toBe('44');
    } finally {
      redis.disconnect();
    }
  });

  test('when one replica has let a user through and synced, then another replica allows only what is left of the limit', async () => {
    const namespace = `synced-${randomUUID()}`;
    const env = { AUTH_RATE_LIMIT_REDIS_NAMESPACE: namespace, API_RATE_LIMIT_REQUESTS: '20', API_RATE_LIMIT_SYNC_EVERY: '5', API_RATE_LIMIT_SYNC_MS: '100' };
    const a = await gateway(env);
    const b = await gateway(env);
    const user = bearer(issuer.token({ role: 'student' }));
    for (let i = 0; i < 10; i++) expect((await request(a.url, '/api/v1/lessons/my', { headers: user })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 400)); // a's periodic sync adds its last four
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await request(b.url, '/api/v1/lessons/my', { headers: user })).status);
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429]);
  });
});

describe('when Redis is unavailable', () => {
  test('when REDIS_URL points at a closed port, then requests are still answered quickly and still limited, per replica', async () => {
    const g = await gateway({ REDIS_URL: 'redis://127.0.0.1:1', AUTH_RATE_LIMIT_LOGIN_REQUESTS: '3', API_RATE_LIMIT_REQUESTS: '2' });
    const logins = [];
    for (let i = 0; i < 4; i++) logins.push(await login(g));
    expect(logins.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    for (const r of logins) expect(r.ms).toBeLessThan(500);
    const user = bearer(issuer.token({ role: 'student' }));
    const calls = [];
    for (let i = 0; i < 3; i++) calls.push(await request(g.url, '/api/v1/lessons/my', { headers: user }));
    expect(calls.map((r) => r.status)).toEqual([200, 200, 429]);
    const ready = await request(g.url, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ failed: ['redis'], checks: { redis: 'failed' } });
    const metrics = await request(g.url, '/metrics');
    expect(metrics.body).toMatch(/gateway_rate_limit_fallback_total\{[^}]*limit="login"[^}]*\} [1-9]/);
  });

  test('when Redis accepts connections but never answers, then requests do not hang and are limited by the fallback', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket)); // accepts, never replies
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const g = await gateway({ REDIS_URL: `redis://127.0.0.1:${port}`, AUTH_RATE_LIMIT_LOGIN_REQUESTS: '2' });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const r = await login(g);
        expect(r.ms).toBeLessThan(1_000);
        statuses.push(r.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('memory backend', () => {
  test('when AUTH_RATE_LIMIT_BACKEND=memory, then the limits apply without Redis and /ready does not need it', async () => {
    const g = await gateway({ AUTH_RATE_LIMIT_BACKEND: 'memory', REDIS_URL: 'redis://127.0.0.1:1', AUTH_RATE_LIMIT_LOGIN_REQUESTS: '1' });
    expect((await login(g)).status).toBe(200);
    expect((await login(g)).status).toBe(429);
    const ready = await request(g.url, '/ready');
    expect(ready.status).toBe(200);
    expect(ready.json().checks.redis).toBe('not_used');
  });
});
