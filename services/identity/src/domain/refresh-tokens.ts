import { createHash, randomBytes } from 'node:crypto';

/** Opaque, 256 random bits, base64url; only its SHA-256 is stored. */
export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface RefreshTokenState {
  expiresAt: Date;
  spentAt: Date | null;
  familyRevokedAt: Date | null;
}

export type RefreshVerdict = 'rotate' | 'reused' | 'revoked' | 'expired';

/**
 * What presenting a stored refresh token means. A spent token presented again is a theft
 * signal (RFC 9700 §4.14.2): the whole family is revoked, even when it already was.
 */
export function judgeRefreshToken(state: RefreshTokenState, now: Date): RefreshVerdict {
  if (state.spentAt) return 'reused';
  if (state.familyRevokedAt) return 'revoked';
  if (state.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'rotate';
}

export function refreshExpiry(now: Date, ttlDays: number): Date {
  return new Date(now.getTime() + Math.round(ttlDays * 86_400_000));
}
