import { generateKeyPairSync, KeyObject } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import request from 'supertest';
import { startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, createAuth, errorHandler, jwksKeyResolver } from '../src';

describe('access token verification against the JWKS', () => {
  let issuer: TestIssuer;
  let app: express.Express;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    const auth = createAuth(jwksKeyResolver(issuer.jwksUrl));
    app = express();
    app.get('/me', auth.requireAuth, (req, res) => res.json(req.principal));
    app.get('/admin', auth.requireAuth, auth.requireRole('admin'), (_req, res) => res.json({ ok: true }));
    app.use(errorHandler(pino({ level: 'silent' })));
  });
  afterAll(() => issuer.close());

  const base64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = () => ({ sub: '6f1c1d9e-1111-4111-8111-111111111111', role: 'student', typ: 'access', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 });

  test('a valid token passes and yields the principal', async () => {
    const res = await request(app).get('/me').set('Authorization', `Bearer ${issuer.token({ sub: claims().sub, role: 'teacher' })}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: claims().sub, role: 'teacher' });
  });

  test.each([
    ['no token', () => undefined],
    ['garbage', () => 'Bearer not.a.token'],
    ['alg none', () => `Bearer ${base64url({ alg: 'none', typ: 'JWT', kid: issuer.kid })}.${base64url(claims())}.`],
    [
      'HS256 signed with the public key',
      () => `Bearer ${jwt.sign(claims(), issuer.publicKey.export({ type: 'spki', format: 'pem' }) as string, { algorithm: 'HS256', keyid: issuer.kid })}`,
    ],
    ['expired', () => `Bearer ${issuer.token({ role: 'student' }, { expiresInSeconds: -60 })}`],
    ['unknown kid', () => `Bearer ${issuer.token({ role: 'student' }, { kid: 'someone-elses-key' })}`],
    [
      'signed by a foreign key with our kid',
      () => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        return `Bearer ${jwt.sign(claims(), privateKey, { algorithm: 'ES256', keyid: issuer.kid })}`;
      },
    ],
  ])('a request with %s is refused with 401 problem+json', async (_name, header) => {
    const req = request(app).get('/me');
    const value = header();
    if (value) req.set('Authorization', value);
    const res = await req;
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });

  test('a token verified once is answered from the cache; a token with one signature byte changed is still verified and refused', async () => {
    let resolved = 0;
    const resolver = jwksKeyResolver(issuer.jwksUrl);
    const counting = createAuth(async (kid) => {
      resolved += 1;
      return resolver(kid);
    });
    const cached = express();
    cached.get('/me', counting.requireAuth, (req, res) => res.json(req.principal));
    cached.use(errorHandler(pino({ level: 'silent' })));
    const token = issuer.token({ role: 'student' });
    for (let i = 0; i < 3; i += 1) expect((await request(cached).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(resolved).toBe(1);
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${token.slice(0, -2)}${last}${token.at(-1)}`;
    expect((await request(cached).get('/me').set('Authorization', `Bearer ${tampered}`)).status).toBe(401);
    expect(resolved).toBe(2);
  });

  test('the JWKS resolver hands out a parsed key, the same object on every call for a kid', async () => {
    const resolve = jwksKeyResolver(issuer.jwksUrl);
    const first = await resolve(issuer.kid);
    expect(first).toBeInstanceOf(KeyObject);
    expect(await resolve(issuer.kid)).toBe(first);
    expect((first as KeyObject).equals(issuer.publicKey)).toBe(true);
  });

  test('when the key set cannot be fetched (identity down), a token gets 503, not a misleading 401', async () => {
    const down = express();
    const auth = createAuth(jwksKeyResolver('http://127.0.0.1:9/.well-known/jwks.json', { timeoutMs: 500 }));
    down.get('/me', auth.requireAuth, (req, res) => res.json(req.principal));
    down.use(errorHandler(pino({ level: 'silent' })));
    const res = await request(down).get('/me').set('Authorization', `Bearer ${issuer.token({ role: 'student' })}`);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('service_unavailable');
  });

  test('a valid token with the wrong role is refused with 403', async () => {
    const res = await request(app).get('/admin').set('Authorization', `Bearer ${issuer.token({ role: 'student' })}`);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });
});
