import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import { finishApp, type Logger, type Registry } from '@guitaronline/platform';
import { stateOf, type Breakers } from './breakers/circuit-breakers';
import type { RateLimits } from './limits/rate-limits';
import type { OpenApiCache } from './openapi/openapi-cache';
import type { UpstreamName } from './proxy/routes';

async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The routes the gateway answers itself (express: none of them is on the hot path).
 *
 * `/ready` is 503 only when Redis (the shared limiter store, when used) does not answer:
 * that is the gateway's one dependency of its own. Upstream health is reported in the body
 * but does not make the gateway unready: every replica would go unready together, turning
 * one service's outage into a whole-API outage, while the circuit breakers already answer
 * that service's routes with a fast 503.
 */
export function createGatewayApp(deps: {
  logger: Logger;
  metrics: Registry;
  limits: RateLimits;
  breakers: Breakers;
  upstreams: Record<UpstreamName, string>;
  openapi: OpenApiCache;
  readyTimeoutMs: number;
}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/ready', async (_req, res) => {
    const redisCheck =
      deps.limits.backend === 'redis'
        ? within(deps.limits.ping(), deps.readyTimeoutMs).then(
            () => 'ok' as const,
            () => 'failed' as const,
          )
        : Promise.resolve('not_used' as const);
    const upstreamChecks = Object.entries(deps.upstreams).map(async ([name, url]) => {
      try {
        const answer = await fetch(`${url}/health`, { signal: AbortSignal.timeout(deps.readyTimeoutMs) });
        await answer.arrayBuffer();
        return [name, answer.ok ? 'ok' : 'failed'] as const;
      } catch {
        return [name, 'failed'] as const;
      }
    });
    const [redis, upstreams] = await Promise.all([redisCheck, Promise.all(upstreamChecks)]);
    const failed = redis === 'failed' ? ['redis'] : [];
    if (failed.length > 0) deps.logger.warn({ failed }, 'readiness check failed');
    res.status(failed.length === 0 ? 200 : 503).json({
      status: failed.length === 0 ? 'ready' : 'unavailable',
      checks: { redis },
      failed,
      upstreams: Object.fromEntries(upstreams),
      circuits: Object.fromEntries(Object.entries(deps.breakers).map(([name, breaker]) => [name, stateOf(breaker)])),
    });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.contentType);
    res.send(await deps.metrics.metrics());
  });

  app.get('/openapi.json', async (_req, res) => {
    res.json(await deps.openapi.document());
  });

  // the UI's assets are relative to the page, so the page must live at /docs/
  app.get('/docs', (req, res, next) => {
    if (req.originalUrl.split('?')[0] === '/docs') res.redirect(301, '/docs/');
    else next();
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(undefined, { swaggerOptions: { url: '/openapi.json' }, customSiteTitle: 'GuitarOnline API' }));

  return finishApp(app, deps.logger);
}
