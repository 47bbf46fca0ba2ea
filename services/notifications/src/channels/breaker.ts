import CircuitBreaker from 'opossum';

export interface BreakerSettings {
  resetMs: number;
  volumeThreshold: number;
  errorPercent: number;
}

/**
 * An opossum breaker around one outbound endpoint. No opossum timeout: the action enforces
 * its own (a breaker timeout would report failure while the send carries on, and a late
 * success would then be sent again).
 */
export function createBreaker<TI extends unknown[], TR>(name: string, action: (...args: TI) => Promise<TR>, settings: BreakerSettings): CircuitBreaker<TI, TR> {
  return new CircuitBreaker(action, {
    name,
    timeout: false,
    resetTimeout: settings.resetMs,
    volumeThreshold: settings.volumeThreshold,
    errorThresholdPercentage: settings.errorPercent,
    rollingCountTimeout: Math.max(10_000, settings.resetMs),
  });
}

export function isOpenBreakerError(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'EOPENBREAKER';
}
