import http from 'node:http';
import jwt from 'jsonwebtoken';
import { startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import type { RunningGateway } from '../src/main';
import { bearer, request, startGateway, startStubs, stopStubs, upstreamEnv, type Stubs } from './helpers';

let issuer: TestIssuer;
let stubs: Stubs;
let gateway: RunningGateway;

beforeAll(async () => {
  issuer = await startTestIssuer();
  stubs = await startStubs(issuer);
  gateway = await startGateway(upstreamEnv(stubs));
});

afterAll(async () => {
  await gateway?.stop();
  await stopStubs(stubs);
  await issuer?.close();
});

const seenTotal = () => Object.values(stubs).reduce((n, s) => n + s.seen.length, 0);

describe('routing', () => {
  const cases: Array<[string, keyof Stubs]> = [
    ['/api/v1/identity/users/me', 'identity'],
    ['/api/v1/teachers', 'identity'],
    ['/api/v1/teachers/6f1c2a7e-8d4b-4a57-9e0d-3b8f0c1d2e3f', 'identity'],
    ['/api/v1/scheduling/slots?teacherId=x&status=open', 'booking'],
    ['/api/v1/booking/my', 'booking'],
    ['/api/v1/billing/packages/my', 'billing'],
    ['/api/v1/lessons/my?status=scheduled', 'lessons'],
    ['/api/v1/notifications/my', 'notifications'],
    ['/api/v1/admin/kpi/overview', 'admin'],
  ];

  test.each(cases)('when %s is requested with a valid token, then %s answers with the full path and query', async (path, service) => {
    const token = issuer.token({ role: 'admin' });
    const res = await request(gateway.url, path, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ service, method: 'GET', url: path });
    expect(res.json().headers.authorization).toBe(`Bearer ${token}`);
  });

  test('when a client sends several requests on one keep-alive connection, then they are all answered on it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const token = issuer.token({ role: 'student' });
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i += 1) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.get(`${gateway.url}/api/v1/lessons/my`, { agent, headers: bearer(token) }, (res) => {
          reused.push(req.reusedSocket);
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
      });
      expect(status).toBe(200);
    }
    agent.destroy();
    expect(reused).toEqual([false, true, true]);
  });

  test('when the JWKS is requested without a token, then identity serves it', async () => {
    const res = await request(gateway.url, '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.json().keys[0].kid).toBe(issuer.kid);
  });

  test('when login is posted without a token, then identity receives the body unchanged', async () => {
    const body = JSON.stringify({ email: 'a@example.com', password: 'secret-password' });
    const res = await request(gateway.url, '/api/v1/identity/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ service: 'identity', method: 'POST', url: '/api/v1/identity/auth/login', bodyLength: Buffer.byteLength(body) });
  });

  test('when a path no service owns is requested, then the gateway answers 404 problem+json with the request id', async () => {
    const before = seenTotal();
    for (const path of ['/api/v1/unknown', '/api/v1/identityx/users/me', '/', '/api/v2/lessons/my', '/api/v1/lessons/../admin/kpi/overview', '/internal/ops', '/api/v1/lessons/%2e%2e/x']) {
      const res = await request(gateway.url, path, { headers: bearer(issuer.token({ role: 'admin' })) });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ status: 404, code: 'not_found', requestId: res.headers['x-request-id'] });
    }
    expect(seenTotal()).toBe(before);
  });

  test('when the client sends a valid X-Request-Id, then it is echoed and forwarded; otherwise one is made', async () => {
    const token = issuer.token({ role: 'student' });
    const mine = await request(gateway.url, '/api/v1/lessons/my', { headers: { ...bearer(token), 'x-request-id': 'client-req-12345' } });
    expect(mine.headers['x-request-id']).toBe('client-req-12345');
    expect(mine.json().headers['x-request-id']).toBe('client-req-12345');
    const made = await request(gateway.url, '/api/v1/lessons/my', { headers: { ...bearer(token), 'x-request-id': 'bad id!' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.json().headers['x-request-id']).toBe(made.headers['x-request-id']);
  });

  test('when a request is proxied, then X-Forwarded-For has the peer appended and proto/host describe this hop', async () => {
    const res = await request(gateway.url, '/api/v1/lessons/my', {
      headers: { ...bearer(issuer.token({ role: 'student' })), 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', host: 'api.example.test' },
    });
    const headers = res.json().headers;
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http'); // the peer is not a trusted proxy
    expect(headers['x-forwarded-host']).toBe('api.example.test');
  });

  test('when a client sends internal headers, then no service ever sees them', async () => {
    const res = await request(gateway.url, '/api/v1/booking/my', {
      headers: {
        ...bearer(issuer.token({ role: 'student' })),
        'x-user-id': 'someone-else',
        'x-user-role': 'admin',
        'x-internal-caller': 'admin',
        'x-gateway-verified': 'true',
        'x-custom': 'kept',
        connection: 'keep-alive, x-custom-hop',
        'x-custom-hop': 'dropped',
      },
    });
    expect(res.status).toBe(200);
    const headers = res.json().headers;
    for (const name of ['x-user-id', 'x-user-role', 'x-internal-caller', 'x-gateway-verified', 'x-custom-hop']) expect(headers[name]).toBeUndefined();
    expect(headers['x-custom']).toBe('kept');
  });

  test('when a request carries unusual but valid headers, then the service gets them and the breaker counts nothing against it', async () => {
    const failuresBefore = gateway.breakers.booking.stats.failures;
    const res = await request(gateway.url, '/api/v1/booking/my', {
      headers: {
        ...bearer(issuer.token({ role: 'student' })),
        'x-tabbed': 'a\tb',
        'x-repeated': ['one', 'two'],
        'x-latin1': 'caf\u00e9',
        'x-empty': '',
        te: 'trailers',
        'content-length': '0',
      },
    });
    expect(res.status).toBe(200);
    const headers = res.json().headers;
    expect(headers['x-tabbed']).toBe('a\tb');
    expect(headers['x-repeated']).toBe('one, two');
    expect(headers['x-empty']).toBe('');
    expect(gateway.breakers.booking.stats.failures).toBe(failuresBefore);
  });
});

describe('token check', () => {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const claims = () => ({ sub: 'u-1', role: 'student', typ: 'access', iss: 'guitaronline-identity', aud: 'guitaronline', exp: Math.floor(Date.now() / 1000) + 300 });

  const invalid: Array<[string, () => Record<string, string>]> = [
    ['no token', () => ({})],
    ['a garbage token', () => bearer('garbage.token.value')],
    ['a non-bearer scheme', () => ({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })],
    ['an alg:none token', () => bearer(`${b64({ alg: 'none', typ: 'JWT', kid: issuer.kid })}.${b64(claims())}.`)],
    [
      'an HS256 token signed with the public key PEM',
      () => bearer(jwt.sign(claims(), issuer.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { algorithm: 'HS256', keyid: issuer.kid })),
    ],
    ['an expired token', () => bearer(issuer.token({ role: 'student' }, { expiresInSeconds: -60 }))],
    ['a token with an unknown kid', () => bearer(issuer.token({ role: 'student' }, { kid: 'unknown-kid' }))],
  ];

  test.each(invalid)('when a protected route is called with %s, then 401 problem+json and no service sees it', async (_what, headers) => {
    const before = seenTotal();
    const res = await request(gateway.url, '/api/v1/lessons/my', { headers: headers() });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'unauthorized', status: 401, requestId: res.headers['x-request-id'] });
    expect(seenTotal()).toBe(before);
  });

  test('when the same protected route is called with a valid token, then it passes', async () => {
    const before = stubs.lessons.seen.length;
    const res = await request(gateway.url, '/api/v1/lessons/my', { headers: bearer(issuer.token({ role: 'student' })) });
    expect(res.status).toBe(200);
    expect(stubs.lessons.seen.length).toBe(before + 1);
  });

  test('when logout is called without a token, then it is refused: only register, login and refresh are public', async () => {
    const res = await request(gateway.url, '/api/v1/identity/auth/logout', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });
});
