import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { GuardedCall } from '../breakers/circuit-breakers';
import { watchBodySize } from '../limits/body-limit';

/** How a guarded exchange ended when it did not fail. */
export const Outcome = {
  /** the upstream's response (2xx–4xx) is being streamed to the client */
  responded: 0,
  /** the client went away first; says nothing about the upstream (not used for a trial, see `trial`) */
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

export interface UpstreamProxy {
  readonly name: string;
  readonly target: string;
  /** One proxied request, as the breaker's action. */
  exchange(req: IncomingMessage, res: ServerResponse): Exchange;
  close(): Promise<void>;
}

/** Response headers that describe the upstream connection; the client's is node's to describe. */
const UPSTREAM_CONNECTION_HEADERS = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'trailer', 'upgrade'];

/**
 * Makes the client's headers what the upstream gets, in place (the request is only proxied
 * from here on; a copy per request was ~2 % of the gateway's profile). Hop-by-hop and internal
 * headers were stripped on the way in (headers.ts) and `X-Forwarded-Host` has taken `host`,
 * which becomes the upstream's own; undici frames the body itself (`transfer-encoding` is its
 * call).
 */
function toUpstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  delete headers.host;
  delete headers['transfer-encoding'];
  return headers;
}

/**
 * The upstream closed a connection the pool had just reused, before a byte of the answer: the
 * request may never have been read. A GET or HEAD (no body, safe to send again) is sent once
 * more on a fresh connection; anything else fails as it is.
 */
const RESENT_METHODS = new Set(['GET', 'HEAD']);
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET']);

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * One request's trip to the upstream over undici, as a promise the circuit breaker can judge:
 * it settles when the upstream's response headers arrive (or on a connection error), not when
 * the body ends. The request is aborted through its own signal (breaker timeout, client gone,
 * body over the limit), never through one shared by other requests.
 */
export class Exchange implements GuardedCall {
  private settled = false;
  private piping = false;
  private clientGone = false;
  /**
   * The half-open breaker's one trial: it runs to the upstream's answer even when its client
   * leaves, because a client leaving says nothing about the service and the breaker must not
   * close (or stay open) on it. Set by the caller before the breaker fires.
   */
  trial = false;
  /** undici's abort signal for this request alone (an emitter: an AbortController costs more per request). */
  private readonly abort = new EventEmitter();
  private resent = false;
  /** The client's body as undici reads it: undici destroys this, not the client's request. */
  private body: PassThrough | undefined;
  private resolve!: (outcome: Outcome) => void;
  private reject!: (err: Error) => void;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly pool: Pool,
    private readonly options: { bodyTimeoutMs: number; maxBodyBytes: number },
  ) {}

  start(): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const { req } = this;
      this.res.once('close', this.onClientClose);
      if (hasBody(req)) {
        watchBodySize(req, this.options.maxBodyBytes, this.onBodyTooLarge);
        this.body = req.pipe(new PassThrough());
      }
      // after the body's framing was read from them
      toUpstreamHeaders(req.headers);
      this.send();
    });
  }

  private send(): void {
    const { req } = this;
    this.pool.stream(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: req.headers,
        body: this.body ?? null,
        signal: this.abort,
        // the breaker's timeout covers the wait for headers; this is the idle limit while streaming
        headersTimeout: 0,
        bodyTimeout: this.options.bodyTimeoutMs,
      },
      this.onResponse,
      this.onDone,
    );
  }

  /** The breaker gave up (timeout): stop the upstream request now. */
  abortUpstream(): void {
    this.settled = true;
    this.stopUpstream();
  }

  private stopUpstream(): void {
    if (this.body) this.req.unpipe(this.body);
    this.abort.emit('abort');
  }

  /** Headers arrived: the breaker's verdict, and the response goes to the client as it streams. */
  private readonly onResponse = ({ statusCode, headers }: Dispatcher.StreamFactoryData): ServerResponse => {
    if (!this.settled) {
      this.settled = true;
      if (statusCode >= 500) this.reject(new UpstreamStatusError(statusCode));
      else this.resolve(Outcome.responded);
    }
    // a trial whose client left: the verdict is all it was for (the response, already closed, ends the upstream request)
    if (this.clientGone) return this.res;
    for (const name of UPSTREAM_CONNECTION_HEADERS) delete headers[name];
    this.piping = true;
    this.res.writeHead(statusCode, headers);
    return this.res;
  };

  private readonly onDone = (err: Error | null): void => {
    if (!err) return;
    if (this.settled) {
      // a failure after the response began: the client cannot get a clean answer any more
      if (this.piping && !this.res.writableEnded) this.res.destroy();
      return;
    }
    const code = (err as { code?: string }).code;
    if (!this.resent && !this.clientGone && RESENT_METHODS.has(this.req.method ?? '') && code !== undefined && CONNECTION_LOST.has(code)) {
      this.resent = true;
      this.send();
      return;
    }
    this.settled = true;
    this.reject(err);
  };

  private readonly onClientClose = (): void => {
    if (this.settled) return;
    this.clientGone = true;
    if (this.trial) {
      // it runs on to the upstream's answer — unless its body can no longer be sent whole
      if (!this.body || this.req.complete) return;
      this.settled = true;
      this.stopUpstream();
      this.reject(new Error('half-open trial abandoned by its client in the middle of the body'));
      return;
    }
    this.settled = true;
    this.stopUpstream();
    this.resolve(Outcome.clientGone);
  };

  private readonly onBodyTooLarge = (): void => {
    if (this.piping) {
      this.res.destroy();
      this.stopUpstream();
      return;
    }
    if (this.settled) return;
    this.settled = true;
    this.stopUpstream();
    this.resolve(Outcome.bodyTooLarge);
  };
}

/**
 * An undici connection pool per upstream (keep-alive, at most `maxSockets` connections, idle
 * ones closed after `idleSocketMs`, below node's 5 s server keep-alive so a socket is never
 * reused just as the service closes it).
 */
export function createUpstreamProxy(
  name: string,
  target: string,
  options: { maxSockets: number; idleSocketMs: number; proxyTimeoutMs: number; maxBodyBytes: number },
): UpstreamProxy {
  const pool = new Pool(target, { connections: options.maxSockets, keepAliveTimeout: options.idleSocketMs, keepAliveMaxTimeout: options.idleSocketMs });
  const exchangeOptions = { bodyTimeoutMs: options.proxyTimeoutMs, maxBodyBytes: options.maxBodyBytes };
  return {
    name,
    target,
    exchange: (req, res) => new Exchange(req, res, pool, exchangeOptions),
    close: () => pool.destroy(),
  };
}
