import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';
import express from 'express';
import { testEnv, type TestIssuer } from '@guitaronline/testing';
import { start, type RunningGateway } from '../src/main';
import { UPSTREAMS, type UpstreamName } from '../src/proxy/routes';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyLength: number;
  bodySha256: string;
}

export interface StubUpstream {
  name: string;
  url: string;
  port: number;
  /** API requests seen (not /health, /openapi.json, the JWKS). */
  seen: SeenRequest[];
  /** how the stub answers API requests */
  mode: 'echo' | 'fail500' | 'fail401' | 'hang' | 'dropOnce';
  /** requests left unanswered ('hang') whose connection the gateway then closed */
  abandoned: number;
  /** answers come this much later (0: at once) */
  delayMs: number;
  stop(): Promise<void>;
  /** listen again on the same port after stop() */
  restart(): Promise<void>;
}

/**
 * A service stand-in: echoes method, path, headers and a digest of the body as JSON, serves
 * `/health`, an optional `/openapi.json`, and (for identity) the test issuer's JWKS.
 */
export async function startStubUpstream(
  name: string,
  options: { issuer?: TestIssuer; openapi?: Record<string, unknown>; port?: number } = {},
): Promise<StubUpstream> {
  const app = express();
  const stub = { name, seen: [] as SeenRequest[], mode: 'echo' as StubUpstream['mode'], abandoned: 0, delayMs: 0 };
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const doc = options.openapi;
  app.get('/openapi.json', (_req, res) => {
    if (doc) res.json(doc);
    else res.status(404).json({ code: 'not_found' });
  });
  if (options.issuer) {
    const jwksUrl = options.issuer.jwksUrl;
    app.get('/.well-known/jwks.json', async (_req, res) => {
      const upstream = await fetch(jwksUrl);
      res.type('application/json').send(await upstream.text());
    });
  }
  app.use(express.raw({ type: () => true, limit: '10mb' }));
  app.use((req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const seen: SeenRequest = {
      method: req.method,
      url: req.originalUrl,
      headers: req.headers,
      bodyLength: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
    };
    stub.seen.push(seen);
    if (stub.mode === 'dropOnce') {
      stub.mode = 'echo';
      req.socket.destroy(); // the connection closes under the request, without a byte of answer
      return;
    }
    if (stub.mode === 'hang') {
      res.on('close', () => stub.abandoned++); // never answers; counts the gateway giving up
      return;
    }
    const answer = () => res.status(stub.mode === 'fail500' ? 500 : stub.mode === 'fail401' ? 401 : 200).json({ service: name, ...seen });
    if (stub.delayMs > 0) setTimeout(answer, stub.delayMs);
    else answer();
  });

  let server: Server = http.createServer(app);
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(options.port ?? 0);
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    restart: async () => {
      server = http.createServer(app);
      await listen(port);
    },
  });
}

export type Stubs = Record<UpstreamName, StubUpstream>;

export async function startStubs(issuer: TestIssuer, openapi: Partial<Record<UpstreamName, Record<string, unknown>>> = {}): Promise<Stubs> {
  const stubs = {} as Stubs;
  for (const name of UPSTREAMS) {
    stubs[name] = await startStubUpstream(name, { issuer: name === 'identity' ? issuer : undefined, openapi: openapi[name] });
  }
  return stubs;
}

export async function stopStubs(stubs: Partial<Stubs>): Promise<void> {
  await Promise.all(Object.values(stubs).map((s) => s?.stop()));
}

export function upstreamEnv(stubs: Partial<Stubs>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, stub] of Object.entries(stubs)) if (stub) env[`${name.toUpperCase()}_URL`] = stub.url;
  return env;
}

/** A gateway on port 0 with its own Redis namespace unless one is given. */
export function startGateway(overrides: Record<string, string | undefined> = {}): Promise<RunningGateway> {
  return start(testEnv({ HOST: '127.0.0.1', AUTH_RATE_LIMIT_REDIS_NAMESPACE: `test-${randomUUID()}`, ...overrides }));
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
  ms: number;
}

/** A plain node request (full control over headers and bodies; no client-side pooling surprises). */
export function request(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; chunks?: Buffer[]; /** the client gives up (closes its socket) */ timeoutMs?: number } = {},
): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    // path given raw: a URL object would resolve dot segments before they reach the gateway
    const req = http.request({ hostname, port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const body = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body), ms: Date.now() - started });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.timeoutMs !== undefined) req.setTimeout(options.timeoutMs, () => req.destroy(new Error('client gave up')));
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
