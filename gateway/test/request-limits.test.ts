import net from 'node:net';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { startTestIssuer, type TestIssuer } from '@guitaronline/testing';
import type { RunningGateway } from '../src/main';
import { bearer, request, startGateway, startStubs, stopStubs, upstreamEnv, type Stubs } from './helpers';

let issuer: TestIssuer;
let stubs: Stubs;
let gateway: RunningGateway;
let token: Record<string, string>;

const MB = 1024 * 1024;

beforeAll(async () => {
  issuer = await startTestIssuer();
  stubs = await startStubs(issuer);
  gateway = await startGateway({ ...upstreamEnv(stubs), HTTP_HEADERS_TIMEOUT_MS: '400', HTTP_REQUEST_TIMEOUT_MS: '1500' });
  token = bearer(issuer.token({ role: 'admin' }));
});

afterAll(async () => {
  await gateway?.stop();
  await stopStubs(stubs);
  await issuer?.close();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes raw bytes and collects whatever comes back until the server closes or `ms` passes. */
function rawExchange(port: number, writes: Array<string | Buffer>, ms = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(parts).toString('utf8'));
    }, ms);
    socket.on('data', (d) => parts.push(d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (parts.length > 0) resolve(Buffer.concat(parts).toString('utf8'));
      else reject(err);
    });
    for (const w of writes) socket.write(w);
  });
}

/** A chunked upload that keeps writing until the server answers; resolves with that answer. */
function streamUntilAnswered(path: string, headers: Record<string, string>, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(gateway.url);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('body size', () => {
  test('when Content-Length is over 1 MB, then 413 payload_too_large before anything reaches the service', async () => {
    const seen = stubs.booking.seen.length;
    const res = await request(gateway.url, '/api/v1/booking/hold', {
      method: 'POST',
      headers: { ...token, 'content-type': 'application/json' },
      body: Buffer.alloc(MB + 1, 0x20),
    }).catch((err: Error) => ({ status: -1, err }) as never);
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ code: 'payload_too_large', status: 413, requestId: res.headers['x-request-id'] });
    expect(stubs.booking.seen.length).toBe(seen);
  });

  test('when a body of exactly 1 MB is sent with Content-Length, then it arrives intact', async () => {
    const body = randomBytes(MB);
    const res = await request(gateway.url, '/api/v1/lessons/upload', { method: 'POST', headers: { ...token, 'content-type': 'application/octet-stream' }, body });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ bodyLength: MB, bodySha256: sha256(body) });
  });

  test('when a chunked body under the limit is streamed, then the service receives it byte for byte', async () => {
    const chunks = Array.from({ length: 15 }, () => randomBytes(60 * 1024));
    const all = Buffer.concat(chunks);
    const res = await request(gateway.url, '/api/v1/billing/payments', { method: 'POST', headers: { ...token, 'transfer-encoding': 'chunked' }, chunks });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ bodyLength: all.length, bodySha256: sha256(all) });
    expect(res.json().headers['transfer-encoding']).toBe('chunked');
  });

  test('when a chunked body grows past 1 MB, then the gateway answers 413 and cuts the upstream request', async () => {
    const abandoned = stubs.notifications.seen.length;
    const res = await streamUntilAnswered('/api/v1/notifications/webhooks', token, 3 * MB);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'payload_too_large' });
    expect(stubs.notifications.seen.length).toBe(abandoned); // the service never got a complete request
  });
});

test('when a client sends Expect: 100-continue (as curl does for larger bodies), then it is told to continue and the body arrives intact', async () => {
  const body = randomBytes(200 * 1024);
  const { port } = new URL(gateway.url);
  const answer = await new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/api/v1/lessons/x', method: 'PUT', headers: { ...token, expect: '100-continue', 'content-length': body.length }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
      },
    );
    req.on('continue', () => req.end(body));
    req.on('error', reject);
  });
  expect(answer.status).toBe(200);
  expect(answer.json).toMatchObject({ method: 'PUT', bodyLength: body.length, bodySha256: sha256(body) });
  expect(answer.json.headers.expect).toBeUndefined();
});

describe('URL and header limits', () => {
  test('when the URL is longer than 2048 characters, then 414 problem+json', async () => {
    const res = await request(gateway.url, `/api/v1/lessons/my?q=${'x'.repeat(2100)}`, { headers: token });
    expect(res.status).toBe(414);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'uri_too_long', status: 414 });
  });

  test('when the headers are larger than 16 KB, then 431 problem+json', async () => {
    const { port } = new URL(gateway.url);
    const answer = await rawExchange(Number(port), [`GET /api/v1/lessons/my HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`]);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain('application/problem+json');
    expect(answer).toContain('"code":"request_header_fields_too_large"');
  });

  test('when a client sends its headers too slowly, then 408 problem+json and the connection is closed', async () => {
    const { port } = new URL(gateway.url);
    const started = Date.now();
    const answer = await rawExchange(Number(port), ['GET /api/v1/lessons/my HTTP/1.1\r\nHost: x\r\n'], 5_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test('when the request line is garbage, then 400 problem+json', async () => {
    const { port } = new URL(gateway.url);
    const answer = await rawExchange(Number(port), ['NOT AN HTTP REQUEST\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('application/problem+json');
  });
});

describe('own routes', () => {
  test('when /health is asked, then 200 {status: ok}', async () => {
    const res = await request(gateway.url, '/health');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers['x-request-id']).toBeDefined();
  });

  test('when /ready is asked with Redis up, then 200 with each upstream reported', async () => {
    await stubs.admin.stop();
    try {
      const res = await request(gateway.url, '/ready');
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({
        status: 'ready',
        checks: { redis: 'ok' },
        upstreams: { identity: 'ok', booking: 'ok', billing: 'ok', lessons: 'ok', notifications: 'ok', admin: 'failed' },
        circuits: { identity: 'closed' },
      });
    } finally {
      await stubs.admin.restart();
    }
  });

  test('when /metrics is asked, then Prometheus text with the gateway metrics', async () => {
    const res = await request(gateway.url, '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toContain('gateway_circuit_state{');
    expect(res.body).toContain('gateway_request_duration_seconds_bucket{');
  });

  test('when an unknown method hits an own route, then 404 problem+json', async () => {
    const res = await request(gateway.url, '/health', { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ code: 'not_found', requestId: res.headers['x-request-id'] });
  });

  test('when /docs is opened, then the Swagger UI page points at /openapi.json', async () => {
    const redirect = await request(gateway.url, '/docs');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/docs/');
    const page = await request(gateway.url, '/docs/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('swagger-ui');
    const init = await request(gateway.url, '/docs/swagger-ui-init.js');
    expect(init.body).toContain('/openapi.json');
  });
});
