import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, jwksKeyResolver, verifyAccessToken } from '@guitaronline/platform';
import { captureMessages, deleteBus, eventually, isolatedBus, manualClock } from '@guitaronline/testing';
import { purgeExpiredTokens } from '../src/data/refresh-token-repository';
import type { IdentityService } from '../src/main';
import { expectProblem, login, PASSWORD, register, signUp, startIdentity, uniqueEmail } from './helpers';

const bus = isolatedBus();
const clock = manualClock();
let identity: IdentityService;
let url: string;
let capture: Awaited<ReturnType<typeof captureMessages>>;

beforeAll(async () => {
  capture = await captureMessages(bus.EVENTS_EXCHANGE);
  identity = await startIdentity(bus, {}, clock);
  url = identity.url;
});

afterAll(async () => {
  await identity?.stop();
  await capture?.close();
  await deleteBus(bus, ['identity']);
});

afterEach(() => clock.set(new Date()));

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const me = (token: string) => request(url).get('/api/v1/identity/users/me').set('Authorization', `Bearer ${token}`);
const refresh = (refreshToken: string) => request(url).post('/api/v1/identity/auth/refresh').send({ refreshToken });

describe('register, login, refresh, me', () => {
  it('when a student registers, logs in, refreshes and asks who they are, then each step answers per the contract', async () => {
    const email = uniqueEmail('Flow').replace('flow', 'FLOW');
    const reg = await request(url).post('/api/v1/identity/auth/register').send({ email, password: PASSWORD, fullName: 'Ana Flow', role: 'student' });
    expect(reg.status).toBe(201);
    expect(reg.body).toEqual({ id: expect.any(String), email: email.toLowerCase(), fullName: 'Ana Flow', role: 'student', createdAt: expect.any(String) });
    expect(new Date(reg.body.createdAt).toISOString()).toBe(reg.body.createdAt);

    // the login matches the stored (lower-case) email whatever the case typed
    const tokens = await login(url, email.toUpperCase());
    expect(tokens).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
    expect(Buffer.from(tokens.refreshToken, 'base64url').length).toBeGreaterThanOrEqual(32);

    const header = jwt.decode(tokens.accessToken, { complete: true })!;
    expect(header.header).toMatchObject({ alg: 'ES256', kid: identity.keys.active.kid });
    expect(header.payload).toMatchObject({ sub: reg.body.id, role: 'student', email: email.toLowerCase(), typ: 'access', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE });
    const claims = header.payload as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(900);

    const rotated = await refresh(tokens.refreshToken);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refreshToken).not.toBe(tokens.refreshToken);
    expect(rotated.body.tokenType).toBe('Bearer');

    const who = await me(rotated.body.accessToken);
    expect(who.status).toBe(200);
    expect(who.body).toEqual(reg.body);
  });

  it('when a refresh token is stored, then only its SHA-256 is in the database', async () => {
    const { user, refreshToken } = await signUp(url);
    const rows = await identity.db('refresh_tokens').where({ user_id: user.id });
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toHaveLength(32);
    expect(JSON.stringify(rows)).not.toContain(refreshToken);
  });

  it('when an email is registered twice (in any case), then the second gets 409 email_taken', async () => {
    const { email } = await register(url);
    const again = await request(url).post('/api/v1/identity/auth/register').send({ email: email.toUpperCase(), password: PASSWORD, fullName: 'Dup', role: 'teacher' });
    expectProblem(again, 409, 'email_taken');
  });

  it('when the same email is registered by many requests at once, then exactly one wins and the rest get 409', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      Array.from({ length: 6 }, () => request(url).post('/api/v1/identity/auth/register').send({ email, password: PASSWORD, fullName: 'Racer', role: 'student' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await identity.db('users').where({ email }).count({ n: '*' })).toEqual([{ n: '1' }]);
  });

  it('when someone registers with role admin, then 422 validation_failed names the role and nothing is stored', async () => {
    const email = uniqueEmail('wannabe');
    const res = await request(url).post('/api/v1/identity/auth/register').send({ email, password: PASSWORD, fullName: 'Mallory', role: 'admin' });
    expectProblem(res, 422, 'validation_failed');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'body.role' })]));
    expect(await identity.db('users').where({ email }).first()).toBeUndefined();
  });

  it('when a password is longer than 72 bytes, then registration refuses it instead of truncating', async () => {
    const res = await request(url)
      .post('/api/v1/identity/auth/register')
      .send({ email: uniqueEmail(), password: 'é'.repeat(37), fullName: 'Long', role: 'student' }); // 74 bytes, 37 characters
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'body.password' })]);
  });

  it('when the password is wrong or the email unknown, then both get the same 401 invalid_credentials', async () => {
    const { email } = await register(url);
    const wrong = await request(url).post('/api/v1/identity/auth/login').send({ email, password: 'not the password' });
    const unknown = await request(url).post('/api/v1/identity/auth/login').send({ email: uniqueEmail('nobody'), password: PASSWORD });
    // a 72-byte prefix of the real password plus more must not log in either
    const longer = await request(url).post('/api/v1/identity/auth/login').send({ email, password: PASSWORD + 'x'.repeat(80) });
    for (const res of [wrong, unknown, longer]) expectProblem(res, 401, 'invalid_credentials');
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
  });
});

describe('refresh token rotation', () => {
  it('when a spent refresh token is presented again, then 401 refresh_token_reused and the newer token of the family stops working', async () => {
    const { refreshToken: first } = await signUp(url);
    const second = await refresh(first);
    expect(second.status).toBe(200);

    const replay = await refresh(first);
    expectProblem(replay, 401, 'refresh_token_reused');

    const afterRevoke = await refresh(second.body.refreshToken);
    expect(afterRevoke.status).toBe(401);
    expect(['invalid_refresh_token', 'refresh_token_reused']).toContain(afterRevoke.body.code);
  });

  it('when a reused token revokes its family, then another login of the same user keeps working', async () => {
    const { email, refreshToken } = await signUp(url);
    const other = await login(url, email);
    await refresh(refreshToken);
    expect((await refresh(refreshToken)).status).toBe(401);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('when the same refresh token is refreshed twice at the same time, then at most one succeeds', async () => {
    const { refreshToken } = await signUp(url);
    const results = await Promise.all([refresh(refreshToken), refresh(refreshToken), refresh(refreshToken)]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(1);
    for (const r of results.filter((x) => x.status !== 200)) expect(r.body.code).toBe('refresh_token_reused');
    // the losers' reuse revoked the family, so the winner's new token is dead too
    for (const r of ok) expect((await refresh(r.body.refreshToken)).status).toBe(401);
  });

  it('when a refresh token is unknown, then 401 invalid_refresh_token', async () => {
    expectProblem(await refresh('A'.repeat(43)), 401, 'invalid_refresh_token');
  });

  it('when a refresh token is older than REFRESH_TOKEN_TTL_DAYS, then 401 invalid_refresh_token', async () => {
    const { refreshToken } = await signUp(url);
    clock.advance(31 * 86_400_000);
    expectProblem(await refresh(refreshToken), 401, 'invalid_refresh_token');
  });

  it('when refresh tokens expired more than a day ago, then the purge removes them and leaves live ones', async () => {
    const { email, user } = await register(url);
    clock.advance(-32 * 86_400_000);
    const old = await login(url, email);
    clock.set(new Date());
    const live = await login(url, email);
    await purgeExpiredTokens(identity.db, new Date(Date.now() - 86_400_000));
    const left = await identity.db('refresh_tokens').where({ user_id: user.id }).count({ n: '*' });
    expect(left).toEqual([{ n: '1' }]);
    expect(await identity.db('refresh_token_families').where({ user_id: user.id }).count({ n: '*' })).toEqual([{ n: '1' }]);
    expectProblem(await refresh(old.refreshToken), 401, 'invalid_refresh_token');
    expect((await refresh(live.refreshToken)).status).toBe(200);
  });

  it('when a user logs out, then 204 and the refresh token no longer works; logging out again or with an unknown token is also 204', async () => {
    const { accessToken, refreshToken } = await signUp(url);
    const rotated = (await refresh(refreshToken)).body;
    const out = await request(url).post('/api/v1/identity/auth/logout').set('Authorization', `Bearer ${accessToken}`).send({ refreshToken: rotated.refreshToken });
    expect(out.status).toBe(204);
    expectProblem(await refresh(rotated.refreshToken), 401, 'invalid_refresh_token');
    const again = await request(url).post('/api/v1/identity/auth/logout').set('Authorization', `Bearer ${accessToken}`).send({ refreshToken: rotated.refreshToken });
    expect(again.status).toBe(204);
    const unknown = await request(url).post('/api/v1/identity/auth/logout').set('Authorization', `Bearer ${accessToken}`).send({ refreshToken: 'nope' });
    expect(unknown.status).toBe(204);
  });

  it("when a user logs out with someone else's refresh token, then 204 but the other login keeps working", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const res = await request(url).post('/api/v1/identity/auth/logout').set('Authorization', `Bearer ${alice.accessToken}`).send({ refreshToken: bob.refreshToken });
    expect(res.status).toBe(204);
    expect((await refresh(bob.refreshToken)).status).toBe(200);
  });

  it('when logout has no bearer token, then 401 unauthorized', async () => {
    const { refreshToken } = await signUp(url);
    expectProblem(await request(url).post('/api/v1/identity/auth/logout').send({ refreshToken }), 401, 'unauthorized');
  });
});

describe('forged access tokens on /users/me', () => {
  let victim: { id: string };
  beforeAll(async () => {
    victim = (await register(url)).user;
  });
  const claims = () => ({ sub: victim.id, role: 'admin', email: 'x@example.com', typ: 'access', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 });

  it('when the token says alg none, then 401 unauthorized', async () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT', kid: identity.keys.active.kid })}.${b64url(claims())}.`;
    expectProblem(await me(token), 401, 'unauthorized');
  });

  it('when the token is HS256 signed with the public key PEM as the HMAC secret, then 401 unauthorized', async () => {
    const { createPublicKey } = await import('node:crypto');
    const publicPem = createPublicKey(identity.keys.active.privateKey).export({ format: 'pem', type: 'spki' }).toString();
    const head = `${b64url({ alg: 'HS256', typ: 'JWT', kid: identity.keys.active.kid })}.${b64url(claims())}`;
    const token = `${head}.${createHmac('sha256', publicPem).update(head).digest('base64url')}`;
    expectProblem(await me(token), 401, 'unauthorized');
  });

  it('when the token has expired, then 401 unauthorized', async () => {
    const { email } = await register(url);
    clock.advance(-3_600_000);
    const { accessToken } = await login(url, email);
    clock.set(new Date());
    expectProblem(await me(accessToken), 401, 'unauthorized');
  });

  it("when the token is signed by another key, under an unknown kid or under identity's kid, then 401 unauthorized", async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sign = (kid: string) => jwt.sign(claims(), privateKey, { algorithm: 'ES256', keyid: kid });
    expectProblem(await me(sign(`unknown-${randomUUID()}`)), 401, 'unauthorized');
    expectProblem(await me(sign(identity.keys.active.kid)), 401, 'unauthorized');
  });

  it('when the token is a refresh token or missing, then 401 unauthorized', async () => {
    const { refreshToken } = await signUp(url);
    expectProblem(await me(refreshToken), 401, 'unauthorized');
    expectProblem(await request(url).get('/api/v1/identity/users/me'), 401, 'unauthorized');
  });
});

describe('signing keys', () => {
  it('when the JWKS is fetched, then it lists the kid the tokens carry, as a public EC P-256 key with a cache lifetime', async () => {
    const { accessToken } = await signUp(url);
    const res = await request(url).get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    const kid = jwt.decode(accessToken, { complete: true })!.header.kid;
    const key = res.body.keys.find((k: { kid: string }) => k.kid === kid);
    expect(key).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid, alg: 'ES256', use: 'sig' });
    expect(key.d).toBeUndefined();
  });

  it('when another service verifies an identity token through the JWKS over HTTP, then it gets the principal', async () => {
    const { user, accessToken } = await signUp(url, 'teacher');
    const principal = await verifyAccessToken(accessToken, jwksKeyResolver(`${url}/.well-known/jwks.json`));
    expect(principal).toEqual({ userId: user.id, role: 'teacher', email: user.email });
  });

  it('when JWT_PRIVATE_KEY and JWT_KEY_ID are configured, then identity signs with that key and publishes only it', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const configured = await startIdentity(bus, { JWT_PRIVATE_KEY: pem.replace(/\n/g, '\\n'), JWT_KEY_ID: 'configured-key-1' });
    try {
      const { email } = await register(configured.url);
      const { accessToken } = await login(configured.url, email);
      expect(jwt.decode(accessToken, { complete: true })!.header.kid).toBe('configured-key-1');
      const jwks = await request(configured.url).get('/.well-known/jwks.json');
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual(['configured-key-1']);
      // the token verifies with the configured public key, so it was really signed by it
      const { createPublicKey } = await import('node:crypto');
      expect(() => jwt.verify(accessToken, createPublicKey(privateKey), { algorithms: ['ES256'] })).not.toThrow();
    } finally {
      await configured.stop();
    }
  });

  it('when identity restarts, then it keeps signing with the same persisted key', async () => {
    const again = await startIdentity(bus);
    try {
      expect(again.keys.active.kid).toBe(identity.keys.active.kid);
    } finally {
      await again.stop();
    }
  });
});

describe('events', () => {
  it('when a user registers, then identity.user.registered is published with the X-Request-Id as correlationId', async () => {
    const requestId = randomUUID();
    const { user } = await register(url, { fullName: 'Evented Person' }, { 'X-Request-Id': requestId });
    const event = await eventually(() => capture.ofType('identity.user.registered').find((e) => e.payload.userId === user.id));
    expect(event).toMatchObject({
      type: 'identity.user.registered',
      source: 'identity',
      correlationId: requestId,
      aggregateId: user.id,
      payload: { userId: user.id, email: user.email, role: 'student', fullName: 'Evented Person' },
    });
  });

  it('when a registration fails, then no event is written', async () => {
    const { email } = await register(url);
    const before = await identity.db('outbox').count({ n: '*' });
    await request(url).post('/api/v1/identity/auth/register').send({ email, password: PASSWORD, fullName: 'Dup', role: 'student' });
    expect(await identity.db('outbox').count({ n: '*' })).toEqual(before);
  });
});
