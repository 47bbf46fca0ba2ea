import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { acceptRequestId, AppError, bearerTokenOf, errors, prom, type Logger, type Principal, type Registry, type TokenCheck } from '@guitaronline/platform';
import type { Breakers } from '../breakers/circuit-breakers';
import type { GatewayConfig } from '../config';
import { declaredBodyTooLarge } from '../limits/body-limit';
import type { LimitResult, RateLimits } from '../limits/rate-limits';
import { normaliseIp, type ClientIpResolver } from './client-ip';
import { setForwardedHeaders, stripClientHeaders } from './headers';
import { gatewayErrors, writeProblem } from './problem';
import { classifyPath, UPSTREAMS, type Route, type UpstreamName } from './routes';
import { Outcome, UpstreamStatusError, type UpstreamProxy } from './upstream-proxy';

type ProxyRoute = Extract<Route, { kind: 'proxy' }>;

export interface GatewayHandlerDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: Registry;
  tokens: TokenCheck;
  limits: RateLimits;
  clientIps: ClientIpResolver;
  breakers: Breakers;
  proxies: Record<UpstreamName, UpstreamProxy>;
  /** Answers the gateway's own routes (health, ready, metrics, openapi, docs). */
  ownRoutes: (req: IncomingMessage, res: ServerResponse) => void;
}

function setLimitHeaders(res: ServerResponse, result: LimitResult): void {
  res.setHeader('RateLimit-Limit', result.limit);
  res.setHeader('RateLimit-Remaining', result.remaining);
  res.setHeader('RateLimit-Reset', result.resetSeconds);
}

/**
 * The request path of the gateway, on plain node objects (no express on the hot path):
 * request id → URL and body-size limits → route → header hygiene → token check → rate
 * limit → circuit breaker → proxy. Everything the gateway refuses is problem+json with the
 * request id; the services' own answers pass through untouched.
 */
export function createGatewayHandler(deps: GatewayHandlerDeps): RequestListener {
  const { config, logger, tokens, limits, clientIps, breakers, proxies } = deps;
  const retryAfterOpen = Math.max(1, Math.ceil(config.CIRCUIT_BREAKER_RESET_TIMEOUT_MS / 1000));

  const duration = new prom.Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time to the last byte of the response, by upstream and status class',
    labelNames: ['upstream', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [deps.metrics],
  });
  const upstreamErrors = new prom.Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Proxied requests the gateway answered itself, by upstream and reason',
    labelNames: ['upstream', 'reason'],
    registers: [deps.metrics],
  });
  // label children looked up once, not hashed on every request
  const statusClass = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  const durationOf = new Map(UPSTREAMS.map((u) => [u, statusClass.map((cls) => duration.labels(u, cls))]));
  const debug = logger.isLevelEnabled('debug');
  const observe = (req: IncomingMessage, res: ServerResponse, upstream: UpstreamName, started: bigint) => {
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      durationOf.get(upstream)?.[Math.floor(res.statusCode / 100) - 1]?.observe(seconds);
      if (debug) logger.debug({ requestId: req.headers['x-request-id'], method: req.method, url: req.url, upstream, status: res.statusCode, ms: seconds * 1000 }, 'proxied');
    });
  };

  const failUpstream = (res: ServerResponse, requestId: string, upstream: UpstreamName, err: unknown) => {
    if (err instanceof UpstreamStatusError) return; // its response is already on the way
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const code = (err as { code?: string }).code;
    if (code === 'EOPENBREAKER') {
      upstreamErrors.inc({ upstream, reason: 'circuit_open' });
      writeProblem(res, gatewayErrors.circuitOpen(upstream, retryAfterOpen), requestId);
    } else if (code === 'ETIMEDOUT') {
      upstreamErrors.inc({ upstream, reason: 'timeout' });
      writeProblem(res, gatewayErrors.upstreamTimeout(upstream), requestId);
    } else {
      upstreamErrors.inc({ upstream, reason: code === 'ECONNREFUSED' ? 'connection_refused' : 'connection_error' });
      logger.warn({ requestId, upstream, err: err instanceof Error ? err.message : String(err), code }, 'upstream unreachable');
      writeProblem(res, gatewayErrors.upstreamUnavailable(upstream), requestId);
    }
  };

  const proxy = (req: IncomingMessage, res: ServerResponse, requestId: string, route: ProxyRoute, peerTrusted: boolean) => {
    if (req.socket.destroyed) return; // the client left while its token or limit was being checked
    setForwardedHeaders(req, peerTrusted);
    const exchange = proxies[route.upstream].exchange(req, res);
    const breaker = breakers[route.upstream];
    // half-open and its trial not taken yet: this call is the trial
    exchange.trial = breaker.halfOpen && breaker.pendingClose;
    breaker.fire(exchange).then(
      (outcome) => {
        if (outcome === Outcome.bodyTooLarge) {
          res.setHeader('Connection', 'close');
          writeProblem(res, gatewayErrors.payloadTooLarge(config.MAX_BODY_BYTES), requestId);
        }
      },
      (err: unknown) => failUpstream(res, requestId, route.upstream, err),
    ).catch(answerError(res, requestId));
  };

  const limitUser = (req: IncomingMessage, res: ServerResponse, requestId: string, route: ProxyRoute, principal: Principal, peerTrusted: boolean) => {
    limits
      .user(principal.userId)
      .then((result) => {
        setLimitHeaders(res, result);
        if (!result.allowed) return writeProblem(res, gatewayErrors.rateLimited(result.resetSeconds), requestId);
        proxy(req, res, requestId, route, peerTrusted);
      })
      .catch(answerError(res, requestId));
  };

  const toError = (err: unknown): AppError => {
    if (err instanceof AppError) return err;
    logger.error({ err }, 'gateway request failed');
    return new AppError('internal_error', 500, 'An internal error occurred.', { cause: err });
  };
  /** Ends the request with the error as problem+json (or a cut connection): never an unhandled rejection. */
  const answerError = (res: ServerResponse, requestId: string) => (err: unknown) => writeProblem(res, toError(err), requestId);

  return (req, res) => {
    const requestId = acceptRequestId(req.headers['x-request-id']);
    req.headers['x-request-id'] = requestId;
    res.setHeader('X-Request-Id', requestId);

    const url = req.url ?? '/';
    if (url.length > config.MAX_URL_LENGTH) return writeProblem(res, gatewayErrors.uriTooLong(config.MAX_URL_LENGTH), requestId);
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = classifyPath(path);
    if (!route) return writeProblem(res, gatewayErrors.notFound(req.method, path), requestId);
    if (route.kind === 'own') {
      (req as IncomingMessage & { requestId?: string }).requestId = requestId;
      return deps.ownRoutes(req, res);
    }
    observe(req, res, route.upstream, process.hrtime.bigint());

    if (declaredBodyTooLarge(req, config.MAX_BODY_BYTES)) {
      res.setHeader('Connection', 'close');
      return writeProblem(res, gatewayErrors.payloadTooLarge(config.MAX_BODY_BYTES), requestId);
    }
    stripClientHeaders(req.headers);
    const peerTrusted = clientIps.isTrusted(normaliseIp(req.socket.remoteAddress));

    if (route.access === 'public') return proxy(req, res, requestId, route, peerTrusted);
    if (route.access === 'ip-limited') {
      limits
        .auth(route.limit, clientIps.clientIp(req))
        .then((result) => {
          setLimitHeaders(res, result);
          if (!result.allowed) return writeProblem(res, gatewayErrors.rateLimited(result.resetSeconds), requestId);
          proxy(req, res, requestId, route, peerTrusted);
        })
        .catch(answerError(res, requestId));
      return;
    }

    const token = bearerTokenOf(req.headers.authorization);
    if (!token) return writeProblem(res, errors.unauthorized(), requestId);
    const principal = tokens.cached(token);
    if (principal) return limitUser(req, res, requestId, route, principal, peerTrusted);
    tokens
      .verify(token)
      .then((verified) => limitUser(req, res, requestId, route, verified, peerTrusted))
      .catch(answerError(res, requestId)); // a 401 AppError, or anything a later step threw
  };
}
