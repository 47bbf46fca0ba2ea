import CircuitBreaker from 'opossum';
import { prom, type Logger } from '@guitaronline/platform';
import { adminHttp } from '@guitaronline/contracts';
import type { OpsService } from '../config';

export type ServiceOpsResult =
  | { service: OpsService; status: 'ok'; ops: adminHttp.InternalOps }
  /** answered 404: the service has no ops endpoint (yet) */
  | { service: OpsService; status: 'unsupported' }
  | { service: OpsService; status: 'degraded'; reason: string };

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`answered ${status}`);
    this.name = 'HttpStatusError';
  }
}

type Fetch = (authorization: string | undefined, signal: AbortSignal) => Promise<adminHttp.InternalOps | 'unsupported'>;

export interface ServiceOpsClientOptions {
  urls: Record<OpsService, string>;
  timeoutMs: number;
  logger: Logger;
  /** How long an open breaker waits before letting one trial call through. */
  resetTimeoutMs?: number;
  metrics?: prom.Registry;
}

/**
 * Asks each service's `GET /internal/ops` for the operations overview, forwarding the admin's
 * bearer token. Every service has its own circuit breaker (opossum) with a short timeout: a
 * slow or dead service costs at most the timeout, and once its breaker is open it costs
 * nothing; the overview then lists it as degraded instead of failing. Each call has its own
 * AbortController, aborted when the breaker gives up, so a hanging request does not linger.
 */
export class ServiceOpsClient {
  private readonly unanswered: prom.Counter<'service'> | undefined;
  private readonly breakers = new Map<OpsService, CircuitBreaker<Parameters<Fetch>, Awaited<ReturnType<Fetch>>>>();

  constructor(private readonly options: ServiceOpsClientOptions) {
    for (const [service, baseUrl] of Object.entries(options.urls) as [OpsService, string][]) {
      const breaker = new CircuitBreaker<Parameters<Fetch>, Awaited<ReturnType<Fetch>>>(this.fetcher(baseUrl), {
        name: `ops-${service}`,
        timeout: options.timeoutMs,
        errorThresholdPercentage: 50,
        volumeThreshold: 3,
        resetTimeout: options.resetTimeoutMs ?? 10_000,
        // a 4xx (e.g. a token the service refuses) says nothing about the service's health
        errorFilter: (err: unknown) => err instanceof HttpStatusError && err.status < 500,
      });
      breaker.on('open', () => options.logger.warn({ service }, 'ops breaker opened'));
      breaker.on('close', () => options.logger.info({ service }, 'ops breaker closed'));
      this.breakers.set(service, breaker);
    }
    if (options.metrics) {
      const breakers = this.breakers;
      new prom.Gauge({
        name: 'admin_ops_breaker_open',
        help: 'Whether the circuit breaker towards a service\'s /internal/ops is open (1) or not (0)',
        labelNames: ['service'],
        registers: [options.metrics],
        collect() {
          for (const [service, breaker] of breakers) this.set({ service }, breaker.opened ? 1 : 0);
        },
      });
      this.unanswered = new prom.Counter({
        name: 'admin_ops_unanswered_total',
        help: 'Ops overview calls a service did not answer (timeout, error, open breaker)',
        labelNames: ['service'],
        registers: [options.metrics],
      });
    }
  }


  private fetcher(baseUrl: string): Fetch {
    const url = new URL('/internal/ops', baseUrl).toString();
    return async (authorization, signal) => {
      const res = await fetch(url, {
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
        signal,
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return 'unsupported';
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new HttpStatusError(res.status);
      }
      const parsed = adminHttp.internalOpsResponse.safeParse(await res.json());
      if (!parsed.success) throw new Error('answered with an unexpected body');
      return parsed.data;
    };
  }

  async ask(service: OpsService, authorization: string | undefined): Promise<ServiceOpsResult> {
    const breaker = this.breakers.get(service);
    if (!breaker) return { service, status: 'degraded', reason: 'unknown service' };
    const controller = new AbortController();
    try {
      const answer = await breaker.fire(authorization, controller.signal);
      return answer === 'unsupported' ? { service, status: 'unsupported' } : { service, status: 'ok', ops: answer };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.options.logger.warn({ service, reason }, 'service ops unavailable');
      this.unanswered?.inc({ service });
      return { service, status: 'degraded', reason };
    } finally {
      // a timeout or an open breaker rejects fire() while fetch may still be waiting: end it for real
      controller.abort();
    }
  }

  askAll(services: readonly OpsService[], authorization: string | undefined): Promise<ServiceOpsResult[]> {
    return Promise.all(services.map((s) => this.ask(s, authorization)));
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }
}
