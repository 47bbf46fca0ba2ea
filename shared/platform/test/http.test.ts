import request from 'supertest';
import pino from 'pino';
import { z } from 'zod';
import { AppError, createHttpApp, createMetricsRegistry, finishApp, parseBody, parseParams } from '../src';

function app(readinessOk = true) {
  const logger = pino({ level: 'silent' });
  const a = createHttpApp({
    service: 'test',
    logger,
    metrics: createMetricsRegistry('test'),
    readiness: [
      { name: 'postgres', check: async () => undefined },
      { name: 'rabbitmq', check: async () => { if (!readinessOk) throw new Error('down'); } },
    ],
  });
  a.post('/echo', (req, res) => {
    const body = parseBody(req, z.strictObject({ name: z.string().min(1).max(5) }));
    res.json(body);
  });
  a.post('/notes/:key', (req, res) => {
    const { key } = parseParams(req, z.object({ key: z.string().max(20) }));
    const body = parseBody(req, z.strictObject({ title: z.string(), tags: z.array(z.string()), meta: z.strictObject({ by: z.string() }) }));
    res.json({ key, ...body });
  });
  a.get('/conflict', () => {
    throw new AppError('slot_overlap', 409, 'The slot overlaps another.');
  });
  a.get('/boom', () => {
    throw new Error('secret internals at /srv/db');
  });
  return finishApp(a, logger);
}

describe('http app factory', () => {
  test('when a client sends a valid request id it is echoed, otherwise a new one is made', async () => {
    const echoed = await request(app()).get('/health').set('X-Request-Id', 'client-req-12345');
    expect(echoed.headers['x-request-id']).toBe('client-req-12345');
    const replaced = await request(app()).get('/health').set('X-Request-Id', 'bad id!');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('when the body breaks the schema, the answer is 400 problem+json with field errors', async () => {
    const res = await request(app()).post('/echo').send({ name: 'far too long', extra: 1 });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body']));
  });

  test('when a string that passes its schema holds U+0000 (Postgres text cannot), the answer is 400 validation_failed naming each such field', async () => {
    const ok = await request(app()).post('/notes/a').send({ title: 't', tags: ['x', 'y'], meta: { by: 'me' } });
    expect(ok.status).toBe(200);
    const res = await request(app()).post('/notes/a').send({ title: 'a\u0000b', tags: ['x', '\u0000'], meta: { by: 'm\u0000' } });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.title', 'body.tags.1', 'body.meta.by']);
    const param = await request(app()).post('/notes/a%00b').send({ title: 't', tags: [], meta: { by: 'me' } });
    expect(param.status).toBe(400);
    expect(param.body.errors.map((e: { path: string }) => e.path)).toEqual(['params.key']);
  });

  test('when the JSON is malformed, the answer is 400 malformed_json', async () => {
    const res = await request(app()).post('/echo').set('Content-Type', 'application/json').send('{"name": ');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('malformed_json');
  });

  test('when the body is over 1 MB, the answer is 413 payload_too_large', async () => {
    const res = await request(app())
      .post('/echo')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ name: 'x'.repeat(1_100_000) }));
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  test('when a route throws an AppError, its status and code are kept', async () => {
    const res = await request(app()).get('/conflict');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'slot_overlap', status: 409, detail: 'The slot overlaps another.' });
  });

  test('when a route throws anything else, the client gets an opaque 500 without internals', async () => {
    const res = await request(app()).get('/boom');
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('internal_error');
    expect(JSON.stringify(res.body)).not.toContain('/srv/db');
    expect(JSON.stringify(res.body)).not.toContain('stack');
  });

  test('when a path is unknown, the answer is 404 problem+json', async () => {
    const res = await request(app()).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });

  test('when a dependency is down, /ready is 503 naming it; /health stays 200', async () => {
    const down = await request(app(false)).get('/ready');
    expect(down.status).toBe(503);
    expect(down.body.failed).toEqual(['rabbitmq']);
    expect((await request(app(false)).get('/health')).status).toBe(200);
    expect((await request(app(true)).get('/ready')).status).toBe(200);
  });

  test('metrics are served in the Prometheus text format', async () => {
    const a = app();
    await request(a).get('/health');
    const res = await request(a).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('http_request_duration_seconds');
  });
});
