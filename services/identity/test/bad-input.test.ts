import request from 'supertest';
import { encodeCursor } from '@guitaronline/platform';
import { deleteBus, isolatedBus } from '@guitaronline/testing';
import type { IdentityService } from '../src/main';
import { PASSWORD, signUp, startIdentity, uniqueEmail } from './helpers';

const bus = isolatedBus();
let identity: IdentityService;
let url: string;
let teacherToken: string;
let studentRefresh: string;

beforeAll(async () => {
  identity = await startIdentity(bus);
  url = identity.url;
  teacherToken = (await signUp(url, 'teacher')).accessToken;
  studentRefresh = (await signUp(url, 'student')).refreshToken;
});

afterAll(async () => {
  await identity?.stop();
  await deleteBus(bus, ['identity']);
});

type Method = 'get' | 'post' | 'put';
interface Case {
  name: string;
  method: Method;
  path: string;
  /** An object is sent as JSON; a string is sent raw with `type`. */
  body?: unknown;
  type?: string;
  auth?: boolean;
  status: number;
  code: string;
  /** Field paths the `errors` list must name. */
  fields?: string[];
}

const register = '/api/v1/identity/auth/register';
const login = '/api/v1/identity/auth/login';
const refresh = '/api/v1/identity/auth/refresh';
const logout = '/api/v1/identity/auth/logout';
const teachersMe = '/api/v1/teachers/me';
const validRegistration = () => ({ email: uniqueEmail('bad'), password: PASSWORD, fullName: 'Bad Input', role: 'student' });
const validProfile = { displayName: 'Teacher', bio: '', instruments: [], timezone: 'UTC' };
const tooBig = JSON.stringify({ fullName: 'x'.repeat(1_100_000) });

const jsonRoutes: { path: string; method: Method; auth?: boolean }[] = [
  { path: register, method: 'post' },
  { path: login, method: 'post' },
  { path: refresh, method: 'post' },
  { path: logout, method: 'post', auth: true },
  { path: teachersMe, method: 'put', auth: true },
];

const cases: Case[] = [
  // every JSON route: malformed, oversize, not an object, empty
  ...jsonRoutes.flatMap(({ path, method, auth }): Case[] => [
    { name: `${method} ${path}: malformed JSON`, method, path, auth, body: '{"email": ', type: 'application/json', status: 400, code: 'malformed_json' },
    { name: `${method} ${path}: body over 1 MB`, method, path, auth, body: tooBig, type: 'application/json', status: 413, code: 'payload_too_large' },
    { name: `${method} ${path}: a JSON array`, method, path, auth, body: [], status: 400, code: 'validation_failed', fields: ['body'] },
    { name: `${method} ${path}: a bare JSON string`, method, path, auth, body: '"hello"', type: 'application/json', status: 400, code: 'malformed_json' },
    { name: `${method} ${path}: no body at all`, method, path, auth, status: 400, code: 'validation_failed' },
    { name: `${method} ${path}: text/plain body`, method, path, auth, body: 'email=a', type: 'text/plain', status: 400, code: 'validation_failed' },
  ]),
  // register
  { name: 'register: unknown field', method: 'post', path: register, body: { ...validRegistration(), isAdmin: true }, status: 400, code: 'validation_failed', fields: ['body'] },
  { name: 'register: missing fields', method: 'post', path: register, body: {}, status: 400, code: 'validation_failed', fields: ['body.email', 'body.password', 'body.fullName', 'body.role'] },
  { name: 'register: wrong types', method: 'post', path: register, body: { email: 42, password: ['x'], fullName: null, role: 7 }, status: 400, code: 'validation_failed', fields: ['body.email', 'body.password', 'body.fullName', 'body.role'] },
  { name: 'register: invalid email', method: 'post', path: register, body: { ...validRegistration(), email: 'not-an-email' }, status: 400, code: 'validation_failed', fields: ['body.email'] },
  { name: 'register: email over 254', method: 'post', path: register, body: { ...validRegistration(), email: `${'a'.repeat(250)}@example.com` }, status: 400, code: 'validation_failed', fields: ['body.email'] },
  { name: 'register: short password', method: 'post', path: register, body: { ...validRegistration(), password: 'short' }, status: 400, code: 'validation_failed', fields: ['body.password'] },
  { name: 'register: fullName blank', method: 'post', path: register, body: { ...validRegistration(), fullName: '   ' }, status: 400, code: 'validation_failed', fields: ['body.fullName'] },
  { name: 'register: fullName over 200', method: 'post', path: register, body: { ...validRegistration(), fullName: 'x'.repeat(201) }, status: 400, code: 'validation_failed', fields: ['body.fullName'] },
  { name: 'register: fullName with U+0000', method: 'post', path: register, body: { ...validRegistration(), fullName: 'a\u0000b' }, status: 400, code: 'validation_failed', fields: ['body.fullName'] },
  { name: 'register: unknown role', method: 'post', path: register, body: { ...validRegistration(), role: 'guest' }, status: 400, code: 'validation_failed', fields: ['body.role'] },
  { name: 'register: role admin', method: 'post', path: register, body: { ...validRegistration(), role: 'admin' }, status: 422, code: 'validation_failed', fields: ['body.role'] },
  { name: 'register: role admin with an unknown field too', method: 'post', path: register, body: { ...validRegistration(), role: 'admin', extra: 1 }, status: 422, code: 'validation_failed', fields: ['body.role'] },
  // login
  { name: 'login: unknown field', method: 'post', path: login, body: { email: 'a@example.com', password: PASSWORD, remember: true }, status: 400, code: 'validation_failed', fields: ['body'] },
  { name: 'login: wrong types', method: 'post', path: login, body: { email: { $ne: '' }, password: 1 }, status: 400, code: 'validation_failed', fields: ['body.email', 'body.password'] },
  { name: 'login: huge password', method: 'post', path: login, body: { email: 'a@example.com', password: 'x'.repeat(5000) }, status: 400, code: 'validation_failed', fields: ['body.password'] },
  // refresh / logout
  { name: 'refresh: empty token', method: 'post', path: refresh, body: { refreshToken: '' }, status: 400, code: 'validation_failed', fields: ['body.refreshToken'] },
  { name: 'refresh: number token', method: 'post', path: refresh, body: { refreshToken: 12345 }, status: 400, code: 'validation_failed', fields: ['body.refreshToken'] },
  { name: 'refresh: token over 1024', method: 'post', path: refresh, body: { refreshToken: 'x'.repeat(1025) }, status: 400, code: 'validation_failed', fields: ['body.refreshToken'] },
  { name: 'refresh: unknown field', method: 'post', path: refresh, body: { refreshToken: 'abc', userId: 'x' }, status: 400, code: 'validation_failed', fields: ['body'] },
  { name: 'refresh: garbage token', method: 'post', path: refresh, body: { refreshToken: '\u00ff💥' }, status: 401, code: 'invalid_refresh_token' },
  { name: 'refresh: token with U+0000', method: 'post', path: refresh, body: { refreshToken: '\u0000\u00ff💥' }, status: 400, code: 'validation_failed', fields: ['body.refreshToken'] },
  { name: 'login: password with U+0000 (bcrypt implementations differ on it)', method: 'post', path: login, body: { email: 'a@example.com', password: `${PASSWORD}\u0000` }, status: 400, code: 'validation_failed', fields: ['body.password'] },
  { name: 'logout: unknown field', method: 'post', path: logout, auth: true, body: { refreshToken: 'abc', all: true }, status: 400, code: 'validation_failed', fields: ['body'] },
  { name: 'logout: missing token', method: 'post', path: logout, auth: true, body: {}, status: 400, code: 'validation_failed', fields: ['body.refreshToken'] },
  // teachers/me
  { name: 'teachers/me: unknown field', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, teacherId: 'x' }, status: 400, code: 'validation_failed', fields: ['body'] },
  { name: 'teachers/me: bad time zone', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, timezone: 'Mars/Olympus_Mons' }, status: 400, code: 'validation_failed', fields: ['body.timezone'] },
  { name: 'teachers/me: blank displayName', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, displayName: ' ' }, status: 400, code: 'validation_failed', fields: ['body.displayName'] },
  { name: 'teachers/me: bio over 2000', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, bio: 'b'.repeat(2001) }, status: 400, code: 'validation_failed', fields: ['body.bio'] },
  { name: 'teachers/me: 21 instruments', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, instruments: Array.from({ length: 21 }, (_, i) => `i${i}`) }, status: 400, code: 'validation_failed', fields: ['body.instruments'] },
  { name: 'teachers/me: instrument over 50', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, instruments: ['x'.repeat(51)] }, status: 400, code: 'validation_failed', fields: ['body.instruments.0'] },
  { name: 'teachers/me: instruments not a list', method: 'put', path: teachersMe, auth: true, body: { ...validProfile, instruments: 'guitar' }, status: 400, code: 'validation_failed', fields: ['body.instruments'] },
  // teachers list and one teacher
  { name: 'teachers: limit 0', method: 'get', path: '/api/v1/teachers?limit=0', auth: true, status: 400, code: 'validation_failed', fields: ['query.limit'] },
  { name: 'teachers: limit 201', method: 'get', path: '/api/v1/teachers?limit=201', auth: true, status: 400, code: 'validation_failed', fields: ['query.limit'] },
  { name: 'teachers: limit not a number', method: 'get', path: '/api/v1/teachers?limit=ten', auth: true, status: 400, code: 'validation_failed', fields: ['query.limit'] },
  { name: 'teachers: limit twice', method: 'get', path: '/api/v1/teachers?limit=1&limit=2', auth: true, status: 400, code: 'validation_failed', fields: ['query.limit'] },
  { name: 'teachers: garbage cursor', method: 'get', path: '/api/v1/teachers?cursor=not-a-cursor', auth: true, status: 400, code: 'validation_failed', fields: ['query.cursor'] },
  {
    name: 'teachers: cursor with a bad date inside',
    method: 'get',
    path: `/api/v1/teachers?cursor=${encodeCursor({ at: "2020-01-01'; drop table users; --", id: '00000000-0000-4000-8000-000000000000' })}`,
    auth: true,
    status: 400,
    code: 'validation_failed',
    fields: ['query.cursor'],
  },
  ...['2020-02-30T00:00:00Z', '2020-13-01T00:00:00.000000Z', '2020-01-01T24:00:00Z', '0000-01-01T00:00:00Z'].map(
    (at): Case => ({
      name: `teachers: cursor with impossible time ${at}`,
      method: 'get',
      path: `/api/v1/teachers?cursor=${encodeCursor({ at, id: '00000000-0000-4000-8000-000000000000' })}`,
      auth: true,
      status: 400,
      code: 'validation_failed',
      fields: ['query.cursor'],
    }),
  ),
  { name: 'teachers: cursor too long', method: 'get', path: `/api/v1/teachers?cursor=${'a'.repeat(600)}`, auth: true, status: 400, code: 'validation_failed', fields: ['query.cursor'] },
  { name: 'teacher: id not a uuid', method: 'get', path: '/api/v1/teachers/not-a-uuid', auth: true, status: 400, code: 'validation_failed', fields: ['params.teacherId'] },
  { name: 'teacher: id with SQL', method: 'get', path: `/api/v1/teachers/${encodeURIComponent("1' or '1'='1")}`, auth: true, status: 400, code: 'validation_failed', fields: ['params.teacherId'] },
  // auth headers
  { name: 'me: Basic auth', method: 'get', path: '/api/v1/identity/users/me', status: 401, code: 'unauthorized' },
  { name: 'unknown route', method: 'get', path: '/api/v1/identity/nope', status: 404, code: 'not_found' },
];

describe('bad input at every identity route', () => {
  it.each(cases.map((c) => [c.name, c] as const))('when %s, then a problem+json answer, never a 5xx', async (_name, c) => {
    let req = request(url)[c.method](c.path);
    if (c.auth) req = req.set('Authorization', `Bearer ${teacherToken}`);
    if (c.name === 'me: Basic auth') req = req.set('Authorization', 'Basic dXNlcjpwYXNz');
    if (typeof c.body === 'string') req = req.set('Content-Type', c.type ?? 'application/json').send(c.body);
    else if (c.body !== undefined) req = req.send(c.body as object);
    const res = await req.ok(() => true);
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: c.status, code: c.code });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: c.status, requestId: res.headers['x-request-id'] });
    if (c.code === 'validation_failed') {
      expect(Array.isArray(res.body.errors) && res.body.errors.length > 0).toBe(true);
      for (const e of res.body.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
    }
    if (c.fields) expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(c.fields));
  });

  it('when malformed input was sent, then nothing was stored and the service still answers', async () => {
    const res = await request(url).post(refresh).send({ refreshToken: studentRefresh });
    expect(res.status).toBe(200);
    expect((await request(url).get('/ready')).status).toBe(200);
  });

  it('when the OpenAPI document is fetched, then it lists every identity route with its full path', async () => {
    const res = await request(url).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths).sort()).toEqual(
      [
        '/.well-known/jwks.json',
        '/api/v1/identity/auth/login',
        '/api/v1/identity/auth/logout',
        '/api/v1/identity/auth/refresh',
        '/api/v1/identity/auth/register',
        '/api/v1/identity/users/me',
        '/api/v1/teachers',
        '/api/v1/teachers/me',
        '/api/v1/teachers/{teacherId}',
      ].sort(),
    );
    expect(res.body.paths['/api/v1/identity/auth/register'].post.responses).toHaveProperty('409');
    expect(res.body.components.schemas).toHaveProperty('RegisterRequest');
  });
});
