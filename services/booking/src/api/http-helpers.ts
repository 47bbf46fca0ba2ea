import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { parse } from '@guitaronline/platform';
import { bookingHttp, z } from '@guitaronline/contracts';

/** Longest `Prefer: wait=N` honoured (API.md: N ≤ 10 s). */
export const MAX_PREFER_WAIT_SECONDS = 10;

/**
 * Seconds of an RFC 7240 `Prefer: wait=N` (among other preferences), capped at 10; 0 when
 * absent or not a number.
 */
export function preferWaitSeconds(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(value);
  if (!match) return 0;
  return Math.min(Number(match[1]), MAX_PREFER_WAIT_SECONDS);
}

const idempotencyHeader = z.object({ 'Idempotency-Key': bookingHttp.idempotencyKey });

/** The `Idempotency-Key` of a request (validated), or undefined when the client sent none. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  return parse(idempotencyHeader, { 'Idempotency-Key': value }, 'headers')['Idempotency-Key'];
}

/** A stable hash of a validated request body (key order does not matter). */
export function requestHash(body: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(body).sort().map((k) => [k, body[k]]));
  return createHash('sha256').update(canonical).digest('hex');
}
