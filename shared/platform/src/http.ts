import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { prom } from './metrics';
import { runWithContext } from './context';
import { AppError, toAppError, toProblem } from './errors';
import { acceptRequestId } from './request-id';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
}

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  metrics: Registry;
  readiness?: ReadinessCheck[];
  /** JSON body limit; API.md says 1 MB. */
  bodyLimit?: string;
  readinessTimeoutMs?: number;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Sends an AppError as application/problem+json. */
export function sendProblem(res: ServerResponse, error: AppError, requestId?: string): void {
  // a plain node response, so the gateway's proxy path (no express) answers the same way
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(toProblem(error, requestId));
  for (const [name, value] of Object.entries(error.details?.headers ?? {})) res.setHeader(name, value);
  res.statusCode = error.status;
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * For `server.on('clientError')`: what node's HTTP parser refuses before a request object
 * exists (a malformed request line or header, headers over the limit, a request not received
 * in time) is answered as problem+json like everything else, then the connection closes —
 * node's own answer is a bare `400 Bad Request`. A connection already gone is let go.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError('request_header_fields_too_large', 431, 'The request headers are too large.')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new AppError('request_timeout', 408, 'The request was not received in time.')
        : new AppError('bad_request', 400, 'The request could not be parsed.');
  const requestId = randomUUID();
  const body = JSON.stringify(toProblem(error, requestId));
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The express app every service starts from: request ids and log context, JSON body parsing
 * with the size limit, `/health`, `/ready`, `/metrics` and request metrics. Routes are added
 * by the service; `finishApp` then adds the 404 and the one error handler.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { logger, metrics } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  const httpDuration = new prom.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const requestId = acceptRequestId(req.headers['x-request-id']);
    req.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      if (res.statusCode >= 500) logger.error({ requestId, method: req.method, url: req.originalUrl, status: res.statusCode }, 'request failed');
      else logger.debug({ requestId, method: req.method, url: req.originalUrl, status: res.statusCode, ms: seconds * 1000 }, 'request');
    });
    // the request id is the correlation id of every event this request causes
    runWithContext({ requestId, correlationId: requestId, causationId: null }, () => next());
  });

  app.use(express.json({ limit: options.bodyLimit ?? '1mb', strict: true }));

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/ready', async (_req, res) => {
    const checks = options.readiness ?? [];
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await withTimeout(Promise.resolve().then(check), options.readinessTimeoutMs ?? 2_000, name);
          return { name, ok: true as const };
        } catch (err) {
          return { name, ok: false as const, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const failed = results.filter((r) => !r.ok);
    const body = {
      status: failed.length === 0 ? 'ready' : 'unavailable',
      checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : 'failed'])),
      failed: failed.map((f) => f.name),
    };
    if (failed.length > 0) logger.warn({ failed }, 'readiness check failed');
    res.status(failed.length === 0 ? 200 : 503).json(body);
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.contentType);
    res.send(await metrics.metrics());
  });

  return app;
}

/** The one error handler: anything thrown becomes problem+json; 5xx hide their internals. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toAppError(err);
    if (error.status >= 500) logger.error({ err, requestId: req.requestId }, 'unhandled error');
    else logger.debug({ code: error.code, requestId: req.requestId }, 'client error');
    sendProblem(res, error, req.requestId);
  };
}

/** Adds the 404 for unknown routes and the error handler; call after the routes. */
export function finishApp(app: Express, logger: Logger): Express {
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new AppError('not_found', 404, `No route for ${req.method} ${req.path}.`));
  });
  app.use(errorHandler(logger));
  return app;
}
