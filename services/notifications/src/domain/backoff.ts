export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before the next attempt after `failedAttempts` failures: exponential
 * (base · 2^(n-1), capped) with "equal jitter" — a random point in the upper half of the
 * step. Jitter spreads retries of many deliveries that failed together (an SMTP outage),
 * and because step n lies in [exp/2, exp] and step n+1 in [exp, 2·exp], the delays of one
 * delivery never shrink while below the cap (at the cap they vary within [cap/2, cap]).
 */
export function backoffDelayMs(failedAttempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, failedAttempts);
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(n - 1, 40));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
