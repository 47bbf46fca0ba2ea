import CircuitBreaker from 'opossum';
import { prom, type Logger, type Registry } from '@guitaronline/platform';
import type { GatewayConfig } from '../config';
import { UPSTREAMS, type UpstreamName } from '../proxy/routes';

export const CIRCUIT_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

/** What a breaker guards: one proxied exchange, settled when the upstream's headers arrive. */
export interface GuardedCall {
  start(): Promise<unknown>;
  /** Called when the breaker gives up waiting: the upstream request must really stop. */
  abortUpstream(): void;
}

export type Breakers = Record<UpstreamName, CircuitBreaker<[GuardedCall], unknown>>;

export function stateOf(breaker: CircuitBreaker): keyof typeof CIRCUIT_STATE {
  if (breaker.opened) return 'open';
  if (breaker.halfOpen) return 'halfOpen';
  return 'closed';
}

/**
 * One opossum breaker per upstream. The action is the proxied exchange itself; it succeeds
 * on any 2xx–4xx response and fails on a 5xx, a connection error or the timeout. The
 * timeout aborts that one upstream request (opossum's shared `abortController` option is
 * not used: it is one controller for every call in flight, see opossum #780/#861).
 * State and events are exported as `gateway_circuit_state{upstream}` (0 closed,
 * 1 half-open, 2 open) and `gateway_circuit_events_total{upstream,event}`.
 */
export function createBreakers(config: GatewayConfig, logger: Logger, metrics: Registry): Breakers {
  const state = new prom.Gauge({
    name: 'gateway_circuit_state',
    help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
    labelNames: ['upstream'],
    registers: [metrics],
  });
  const events = new prom.Counter({
    name: 'gateway_circuit_events_total',
    help: 'Circuit breaker events per upstream (success, failure, timeout, reject, open, halfOpen, close)',
    labelNames: ['upstream', 'event'],
    registers: [metrics],
  });

  const breakers = {} as Breakers;
  for (const upstream of UPSTREAMS) {
    const breaker = new CircuitBreaker<[GuardedCall], unknown>((call: GuardedCall) => call.start(), {
      name: upstream,
      timeout: config.UPSTREAM_TIMEOUT_MS,
      volumeThreshold: config.CIRCUIT_BREAKER_VOLUME_THRESHOLD,
      errorThresholdPercentage: config.CIRCUIT_BREAKER_ERROR_THRESHOLD_PERCENTAGE,
      resetTimeout: config.CIRCUIT_BREAKER_RESET_TIMEOUT_MS,
      rollingCountTimeout: config.CIRCUIT_BREAKER_ROLLING_WINDOW_MS,
      rollingPercentilesEnabled: false,
    });
    state.set({ upstream }, CIRCUIT_STATE.closed);
    // opossum passes the call's arguments to 'timeout' listeners (the typings omit them)
    const onTimeout = (_err: unknown, _latency: unknown, args: [GuardedCall]) => {
      timeouts.inc();
      args[0]?.abortUpstream();
    };
    const timeouts = events.labels(upstream, 'timeout');
    breaker.on('timeout', onTimeout as unknown as (err: Error) => void);
    const successes = events.labels(upstream, 'success');
    const failures = events.labels(upstream, 'failure');
    const rejects = events.labels(upstream, 'reject');
    breaker.on('success', () => successes.inc());
    breaker.on('failure', () => failures.inc());
    breaker.on('reject', () => rejects.inc());
    breaker.on('open', () => {
      state.set({ upstream }, CIRCUIT_STATE.open);
      events.inc({ upstream, event: 'open' });
      logger.warn({ upstream, resetTimeoutMs: config.CIRCUIT_BREAKER_RESET_TIMEOUT_MS }, 'circuit opened: failing fast');
    });
    breaker.on('halfOpen', () => {
      state.set({ upstream }, CIRCUIT_STATE.halfOpen);
      events.inc({ upstream, event: 'halfOpen' });
      logger.info({ upstream }, 'circuit half-open: letting one trial request through');
    });
    breaker.on('close', () => {
      state.set({ upstream }, CIRCUIT_STATE.closed);
      events.inc({ upstream, event: 'close' });
      logger.info({ upstream }, 'circuit closed: upstream answers again');
    });
    breakers[upstream] = breaker;
  }
  return breakers;
}

export function shutdownBreakers(breakers: Breakers): void {
  for (const breaker of Object.values(breakers)) breaker.shutdown();
}
