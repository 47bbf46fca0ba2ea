import type { Principal } from './auth';

interface Entry {
  principal: Principal;
  /** epoch ms after which the entry is no longer used */
  until: number;
}

export interface TokenCheck {
  /** The principal of an already verified token still fresh in the cache, without a promise. */
  cached(token: string): Principal | undefined;
  /** Verifies (identity's JWKS) and remembers the result; throws AppError 401. */
  verify(token: string): Promise<Principal>;
  readonly size: number;
}

function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Token verification with a short memory: an ES256 verification costs more than a whole
 * request to a service or a proxy hop, and a client sends the same token on every request. A verified token is
 * reused until min(its exp, now + ttl); failures are never cached. The map is bounded and
 * drops its oldest entry when full. Keyed by the whole token string, signature included, it
 * can only ever let through what identity signed; a key withdrawn from the JWKS stops
 * being honoured within the TTL.
 */
export function createTokenCheck(
  verifyToken: (token: string) => Promise<Principal>,
  options: { ttlMs: number; maxEntries: number; now?: () => number },
): TokenCheck {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  return {
    cached(token) {
      if (options.ttlMs === 0) return undefined;
      const entry = entries.get(token);
      if (!entry) return undefined;
      if (entry.until > now()) return entry.principal;
      entries.delete(token);
      return undefined;
    },
    async verify(token) {
      const principal = await verifyToken(token);
      if (options.ttlMs > 0) {
        const exp = expiryOf(token);
        if (exp === undefined) return principal;
        const until = Math.min(exp, now() + options.ttlMs);
        if (entries.size >= options.maxEntries) {
          const oldest = entries.keys().next().value;
          if (oldest !== undefined) entries.delete(oldest);
        }
        entries.set(token, { principal, until });
      }
      return principal;
    },
    get size() {
      return entries.size;
    },
  };
}
