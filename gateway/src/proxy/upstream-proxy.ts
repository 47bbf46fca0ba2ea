import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createProxyMiddleware, type Plugin, type RequestHandler } from 'http-proxy-middleware';
import type { Logger } from '@guitaronline/platform';
import type { GuardedCall } from '../breakers/circuit-breakers';
import { watchBodySize } from '../limits/body-limit';

/** How a guarded exchange ended when it did not fail. */
export const Outcome = {
  /** the upstream's response (2xx–4xx) is being streamed to the client */
  responded: 0,
  /** the client went away first; says nothing about the upstream */
  clientGone: 1,
  /** the streamed request body passed the limit; the upstream request was cut */
  bodyTooLarge: 2,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** A 5xx from the upstream: a breaker failure, but its response still goes to the client. */
export class UpstreamStatusError extends Error {
  constructor(readonly status: number) {
    super(`upstream answered ${status}`);
  }
}

const EXCHANGE = Symbol('gateway.exchange');
type WithExchange = IncomingMessage & { [EXCHANGE]?: Exchange };

function exchangeOf(req: IncomingMessage): Exchange | undefined {
  return (req as WithExchange)[EXCHANGE];
}

export interface UpstreamProxy {
  readonly name: string;
  readonly target: string;
  /** One proxied request, as the breaker's action. */
  exchange(req: IncomingMessage, res: ServerResponse): Exchange;
  close(): void;
}

/**
 * One request's trip through http-proxy-middleware, as a promise the circuit breaker can
 * judge: it settles when the upstream's response headers arrive (or on a connection error),
 * not when the body ends. Events of the shared http-proxy server find their exchange
 * through a symbol on the incoming request.
 */
export class Exchange implements GuardedCall {
  private settled = false;
  private piping = false;
  private aborted = false;
  private proxyReq: ClientRequest | undefined;
  private resolve!: (outcome: Outcome) => void;
  private reject!: (err: Error) => void;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly middleware: RequestHandler,
    private readonly maxBodyBytes: number,
  ) {}

  start(): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      (this.req as WithExchange)[EXCHANGE] = this;
      this.res.once('close', this.onClientClose);
      this.middleware(this.req, this.res, (err?: unknown) => this.onError(err instanceof Error ? err : new Error(String(err)))).catch(
        (err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  /** The breaker gave up (timeout): stop the upstream request now, or as soon as it has a socket. */
  abortUpstream(): void {
    this.settled = true;
    this.aborted = true;
    this.proxyReq?.destroy();
  }

  onStart(): void {
    watchBodySize(this.req, this.maxBodyBytes, this.onBodyTooLarge);
  }

  onProxyReq(proxyReq: ClientRequest): void {
    if (this.aborted) proxyReq.destroy();
    else this.proxyReq = proxyReq;
  }

  onProxyRes(proxyRes: IncomingMessage): void {
    if (this.aborted) return;
    this.piping = true;
    // hop-by-hop: the client's connection is ours to describe, not the upstream's
    const headers = proxyRes.headers;
    delete headers['keep-alive'];
    headers.connection = this.res.shouldKeepAlive ? 'keep-alive' : 'close';
    proxyRes.on('error', this.onProxyResBroken);
    proxyRes.on('close', () => {
      if (!proxyRes.complete) this.onProxyResBroken();
    });
    if (this.settled) return;
    this.settled = true;
    const status = proxyRes.statusCode ?? 502;
    if (status >= 500) this.reject(new UpstreamStatusError(status));
    else this.resolve(Outcome.responded);
  }

  onError(err: Error): void {
    if (this.settled) {
      // a failure after the response began: the client cannot get a clean answer any more
      if (this.piping) this.res.destroy();
      return;
    }
    this.settled = true;
    this.reject(err);
  }

  onClientGone(): void {
    if (this.settled) return;
    this.settled = true;
    this.aborted = true;
    this.proxyReq?.destroy();
    this.resolve(Outcome.clientGone);
  }

  private readonly onClientClose = (): void => {
    if (!this.settled) this.onClientGone();
  };

  private readonly onProxyResBroken = (): void => {
    if (!this.res.writableEnded) this.res.destroy();
  };

  private readonly onBodyTooLarge = (): void => {
    if (this.piping) {
      this.res.destroy();
      this.proxyReq?.destroy();
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.aborted = true;
    if (this.proxyReq) {
      this.req.unpipe(this.proxyReq);
      this.proxyReq.destroy();
    }
    this.resolve(Outcome.bodyTooLarge);
  };
}

/**
 * http-proxy-middleware for one upstream over a keep-alive agent (without one it sends
 * `Connection: close` and every request pays a TCP handshake). Default plugins are ejected:
 * their error page and logging are replaced by the exchange's handling above.
 */
export function createUpstreamProxy(
  name: string,
  target: string,
  options: { maxSockets: number; idleSocketMs: number; proxyTimeoutMs: number; maxBodyBytes: number; logger: Logger },
): UpstreamProxy {
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
    timeout: options.idleSocketMs,
    scheduling: 'lifo',
  });
  const events: Plugin = (proxyServer) => {
    proxyServer.on('start', (req) => exchangeOf(req)?.onStart());
    proxyServer.on('proxyReq', (proxyReq, req) => exchangeOf(req)?.onProxyReq(proxyReq));
    proxyServer.on('proxyRes', (proxyRes, req) => exchangeOf(req)?.onProxyRes(proxyRes));
    proxyServer.on('econnreset', (_err, req) => exchangeOf(req)?.onClientGone());
    proxyServer.on('error', (err, req) => {
      const exchange = exchangeOf(req);
      if (exchange) exchange.onError(err);
      else options.logger.warn({ err: err.message, upstream: name }, 'proxy error outside an exchange');
    });
  };
  const middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
    target,
    changeOrigin: true,
    agent,
    xfwd: false, // set by the gateway itself (trusted-proxy aware)
    // idle limit on the upstream socket while streaming; the breaker's timeout covers the wait for headers
    proxyTimeout: options.proxyTimeoutMs,
    ejectPlugins: true,
    plugins: [events],
    logger: { info: () => undefined, warn: (msg: unknown) => options.logger.warn({ upstream: name }, String(msg)), error: (msg: unknown) => options.logger.error({ upstream: name }, String(msg)) },
  });
  return {
    name,
    target,
    exchange: (req, res) => new Exchange(req, res, middleware, options.maxBodyBytes),
    close: () => agent.destroy(),
  };
}
