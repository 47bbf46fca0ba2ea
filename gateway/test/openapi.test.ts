import { startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import type { RunningGateway } from '../src/main';
import { mergeOpenApi } from '../src/openapi/merge-openapi';
import { request, startGateway, startStubUpstream, stopStubs, upstreamEnv, type StubUpstream } from './helpers';

const problem = { type: 'object', properties: { code: { type: 'string' } }, required: ['code'] };
const bearerAuth = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };

const identityDoc = {
  openapi: '3.1.0',
  info: { title: 'identity', version: '1' },
  paths: {
    '/api/v1/identity/users/me': {
      get: { responses: { '200': { description: 'me', content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } } } } },
    },
  },
  components: { schemas: { Problem: problem, Item: { type: 'object', properties: { email: { type: 'string' } } } }, securitySchemes: { bearerAuth } },
};

const lessonsDoc = {
  openapi: '3.1.0',
  info: { title: 'lessons', version: '1' },
  paths: {
    '/api/v1/lessons/my': {
      get: { responses: { '200': { description: 'mine', content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } } } } },
    },
    '/internal/ops': { get: { responses: { '200': { description: 'service-to-service only' } } } },
    '/api/v1/lessons/{id}': { get: { responses: { '404': { description: 'nf', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } } } } },
  },
  components: { schemas: { Problem: problem, Item: { type: 'object', properties: { startAt: { type: 'string' } } } }, securitySchemes: { bearerAuth } },
};

let issuer: TestIssuer;
const stubs: Record<string, StubUpstream> = {};
let gateway: RunningGateway;

beforeAll(async () => {
  issuer = await startTestIssuer();
  stubs.identity = await startStubUpstream('identity', { issuer, openapi: identityDoc });
  stubs.lessons = await startStubUpstream('lessons', { openapi: lessonsDoc });
  stubs.booking = await startStubUpstream('booking'); // answers, but has no document
  // billing, notifications, admin: nothing listens there
  gateway = await startGateway({
    ...upstreamEnv(stubs),
    BILLING_URL: 'http://127.0.0.1:1',
    NOTIFICATIONS_URL: 'http://127.0.0.1:1',
    ADMIN_URL: 'http://127.0.0.1:1',
  });
});

afterAll(async () => {
  await gateway?.stop();
  await stopStubs(stubs);
  await issuer?.close();
});

describe('merged OpenAPI document', () => {
  test('when /openapi.json is asked, then it has the paths of every service that served one and names the missing ones', async () => {
    const res = await request(gateway.url, '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/identity/users/me', '/api/v1/lessons/my', '/api/v1/lessons/{id}', '/health', '/ready']));
    expect(doc.paths['/internal/ops']).toBeUndefined(); // the gateway does not route it
    expect(doc['x-missing-services'].sort()).toEqual(['admin', 'billing', 'booking', 'notifications']);
    expect(doc.components.securitySchemes.bearerAuth).toEqual(bearerAuth);
    expect(doc.components.schemas.Problem).toEqual(problem);
    // same name, different schema: the later service's copy is renamed and its $refs follow
    expect(doc.components.schemas.Item.properties.email).toBeDefined();
    expect(doc.components.schemas.lessons_Item.properties.startAt).toBeDefined();
    expect(doc.paths['/api/v1/lessons/my'].get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/lessons_Item');
    expect(doc.paths['/api/v1/identity/users/me'].get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/Item');
  });
});

describe('mergeOpenApi', () => {
  test('when two services claim the same path and method, then the first wins and the clash is listed', () => {
    const a = { paths: { '/x': { get: { summary: 'a' } } } };
    const b = { paths: { '/x': { get: { summary: 'b' }, post: { summary: 'b' } } } };
    const merged = mergeOpenApi(
      [
        { service: 'a', document: a },
        { service: 'b', document: b },
      ],
      { title: 't', version: '1', missing: [] },
    );
    expect(merged.paths!['/x']).toEqual({ get: { summary: 'a' }, post: { summary: 'b' } });
    expect(merged['x-path-conflicts']).toEqual(['GET /x (b)']);
  });
});
