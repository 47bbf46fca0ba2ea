import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  answerClientError,
  closeServer,
  createAuth,
  createLogger,
  createMetricsRegistry,
  jwksKeyResolver,
  runService,
  type KeyResolver,
  type Logger,
} from '@guitaronline/platform';
import { createBreakers, shutdownBreakers, type Breakers } from './breakers/circuit-breakers';
import { readConfig, type GatewayConfig } from './config';
import { createGatewayApp } from './gateway-app';
import { createRateLimits, type RateLimits } from './limits/rate-limits';
import { createOpenApiCache, type OpenApiCache } from './openapi/openapi-cache';
import { createClientIpResolver } from './proxy/client-ip';
import { createGatewayHandler } from './proxy/gateway-handler';
import { UPSTREAMS, type UpstreamName } from './proxy/routes';
import { createUpstreamProxy, type UpstreamProxy } from './proxy/upstream-proxy';

export interface RunningGateway {
  url: string;
  port: number;
  server: http.Server;
  config: GatewayConfig;
  logger: Logger;
  breakers: Breakers;
  limits: RateLimits;
  openapi: OpenApiCache;
  stop(): Promise<void>;
}

export function upstreamUrls(config: GatewayConfig): Record<UpstreamName, string> {
  const strip = (url: string) => url.replace(/\/+$/, '');
  return {
    identity: strip(config.IDENTITY_URL),
    booking: strip(config.BOOKING_URL),
    billing: strip(config.BILLING_URL),
    lessons: strip(config.LESSONS_URL),
    notifications: strip(config.NOTIFICATIONS_URL),
    admin: strip(config.ADMIN_URL),
  };
}

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: { resolveKey?: KeyResolver } = {}): Promise<RunningGateway> {
  const config = readConfig(env);
  const logger = createLogger('gateway', { level: config.LOG_LEVEL });
  const metrics = createMetricsRegistry('gateway');
  const upstreams = upstreamUrls(config);

  const auth = createAuth(deps.resolveKey ?? jwksKeyResolver(`${upstreams.identity}/.well-known/jwks.json`), {
    tokenCache: { ttlMs: config.TOKEN_CACHE_TTL_MS, maxEntries: config.TOKEN_CACHE_MAX_ENTRIES },
  });
  const { tokens } = auth;
  const limits = await createRateLimits(config, logger, metrics);
  const breakers = createBreakers(config, logger, metrics);
  const proxies = {} as Record<UpstreamName, UpstreamProxy>;
  for (const name of UPSTREAMS) {
    proxies[name] = createUpstreamProxy(name, upstreams[name], {
      maxSockets: config.UPSTREAM_MAX_SOCKETS,
      idleSocketMs: config.UPSTREAM_IDLE_SOCKET_MS,
      // past the breaker's timeout, so the wait for headers is the breaker's call (504)
      proxyTimeoutMs: config.UPSTREAM_TIMEOUT_MS + 1_000,
      maxBodyBytes: config.MAX_BODY_BYTES,
    });
  }
  const openapi = createOpenApiCache({ upstreams, fetchTimeoutMs: config.OPENAPI_FETCH_TIMEOUT_MS, refreshMs: config.OPENAPI_REFRESH_SECONDS * 1000, logger });
  const ownApp = createGatewayApp({ logger, metrics, limits, breakers, upstreams, openapi, readyTimeoutMs: config.READY_UPSTREAM_TIMEOUT_MS });
  const handler = createGatewayHandler({
    config,
    logger,
    metrics,
    tokens,
    limits,
    clientIps: createClientIpResolver(config.AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS),
    breakers,
    proxies,
    ownRoutes: (req, res) => ownApp(req as never, res as never),
  });

  const server = http.createServer(
    {
      maxHeaderSize: config.MAX_HEADER_BYTES,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      // how often node looks for requests past those limits (default 30 s would blur them)
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(config.HTTP_HEADERS_TIMEOUT_MS / 2)),
    },
    handler,
  );
  server.on('clientError', answerClientError);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, config.HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await limits.close();
    shutdownBreakers(breakers);
    throw err;
  }
  openapi.start();
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  logger.info({ port, upstreams, rateLimitBackend: config.AUTH_RATE_LIMIT_BACKEND }, 'gateway listening');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      openapi.stop();
      const closing = closeServer(server);
      // in-flight requests get a grace period; then their sockets are cut
      const grace = setTimeout(() => server.closeAllConnections(), Math.min(config.SHUTDOWN_TIMEOUT_MS, 5_000));
      grace.unref();
      await closing.catch(() => undefined);
      clearTimeout(grace);
      shutdownBreakers(breakers);
      await Promise.all(Object.values(proxies).map((proxy) => proxy.close().catch(() => undefined)));
      await limits.close();
      logger.info('gateway stopped');
    })());

  return { url, port, server, config, logger, breakers, limits, openapi, stop };
}

if (require.main === module) {
  void runService('gateway', () => start());
}
