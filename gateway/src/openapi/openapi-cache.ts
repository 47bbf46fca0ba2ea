import type { Logger } from '@guitaronline/platform';
import { classifyPath } from '../proxy/routes';
import { mergeOpenApi, type OpenApiDocument, type ServiceDocument } from './merge-openapi';

export interface OpenApiCache {
  /** The merged document; fetched on first use, refreshed in the background when stale. */
  document(): Promise<OpenApiDocument>;
  refresh(): Promise<OpenApiDocument>;
  /** Periodic refresh (timer is unref'd). */
  start(): void;
  stop(): void;
}

/** After a refresh that missed a service, try again this soon rather than a full period later. */
const MISSING_RETRY_MS = 5_000;

const OWN_PATHS = {
  '/health': { get: { summary: 'Gateway liveness', tags: ['gateway'], responses: { '200': { description: '{status: "ok"}' } } } },
  '/ready': {
    get: {
      summary: 'Gateway readiness: Redis (with the redis limiter backend); upstream health is reported, not required',
      tags: ['gateway'],
      responses: { '200': { description: 'ready' }, '503': { description: 'Redis does not answer' } },
    },
  },
};

/**
 * The one OpenAPI document of the public API: every service serves its own `/openapi.json`
 * (generated from its zod schemas); the gateway fetches them with a short timeout, merges
 * them and caches the result. A service that does not answer is left out and named in
 * `x-missing-services` until a later refresh finds it.
 */
export function createOpenApiCache(options: {
  upstreams: Record<string, string>;
  fetchTimeoutMs: number;
  refreshMs: number;
  logger: Logger;
  version?: string;
}): OpenApiCache {
  let current: { document: OpenApiDocument; at: number; missing: number } | undefined;
  let inFlight: Promise<OpenApiDocument> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stopping = new AbortController();

  const fetchOne = async (service: string, baseUrl: string): Promise<ServiceDocument | undefined> => {
    try {
      const res = await fetch(`${baseUrl}/openapi.json`, { signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(options.fetchTimeoutMs)]) });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      const document = (await res.json()) as OpenApiDocument;
      if (!document || typeof document !== 'object' || typeof document.paths !== 'object') return undefined;
      return { service, document };
    } catch {
      return undefined;
    }
  };

  const refresh = (): Promise<OpenApiDocument> => {
    inFlight ??= (async () => {
      const entries = Object.entries(options.upstreams);
      const fetched = await Promise.all(entries.map(([service, url]) => fetchOne(service, url)));
      const found = fetched.filter((d): d is ServiceDocument => d !== undefined);
      const missing = entries.filter((_, i) => fetched[i] === undefined).map(([service]) => service);
      if (missing.length > 0) options.logger.debug({ missing }, 'openapi: some services did not serve their document');
      const document = mergeOpenApi(found, {
        title: 'GuitarOnline API',
        version: options.version ?? '1.0.0',
        description: 'The public API, through the gateway. Merged from the services\' own documents.',
        missing,
        ownPaths: OWN_PATHS,
        isPublicPath: (path) => classifyPath(path)?.kind === 'proxy',
      });
      current = { document, at: Date.now(), missing: missing.length };
      return document;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  return {
    async document() {
      if (!current) return refresh();
      const age = Date.now() - current.at;
      if (age > (current.missing > 0 ? MISSING_RETRY_MS : options.refreshMs)) void refresh();
      return current.document;
    },
    refresh,
    start() {
      void refresh();
      timer = setInterval(() => void refresh(), options.refreshMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      stopping.abort();
    },
  };
}
