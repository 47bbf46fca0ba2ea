import type { NextFunction, Request, RequestHandler, Response } from 'express';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { extendContext } from './context';
import { errors } from './errors';
import { createTokenCheck, type TokenCheck } from './token-cache';

export type Role = 'student' | 'teacher' | 'admin';

/** The one signing algorithm in use; every other `alg` (none, HS*, RS*) is refused. */
export const TOKEN_ALGORITHM = 'ES256' as const;
export const TOKEN_ISSUER = 'guitaronline-identity';
export const TOKEN_AUDIENCE = 'guitaronline';

export interface Principal {
  userId: string;
  role: Role;
  email?: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    requestId?: string;
  }
}

/**
 * Resolves a `kid` to its public key. A kid that the key set does not have must be refused with
 * UnknownKeyError (the token is then a 401); any other failure means the key set could not be
 * read (identity unreachable) and the request gets a 503, not a misleading 401.
 */
export type KeyResolver = (kid: string) => Promise<KeyObject | string>;

export class UnknownKeyError extends Error {
  constructor(kid: string) {
    super(`unknown signing key ${kid.slice(0, 64)}`);
    this.name = 'UnknownKeyError';
  }
}

/**
 * Resolves public keys from identity's JWKS: cached, rate-limited refetch, and a refetch
 * when an unknown `kid` shows up (jwks-rsa does both).
 */
export function jwksKeyResolver(jwksUri: string, options: { cacheMaxAgeMs?: number; timeoutMs?: number } = {}): KeyResolver {
  const client = new JwksClient({
    jwksUri,
    cache: true,
    cacheMaxEntries: 10,
    cacheMaxAge: options.cacheMaxAgeMs ?? 10 * 60_000,
    rateLimit: true,
    jwksRequestsPerMinute: 30,
    timeout: options.timeoutMs ?? 3_000,
  });
  // jsonwebtoken would parse the PEM into a key on every verify; parse it once per key
  const parsed = new Map<string, KeyObject>();
  return async (kid) => {
    let pem: string;
    try {
      pem = (await client.getSigningKey(kid)).getPublicKey();
    } catch (err) {
      if ((err as Error).name === 'SigningKeyNotFoundError') throw new UnknownKeyError(kid);
      throw err;
    }
    let key = parsed.get(pem);
    if (!key) {
      key = createPublicKey(pem);
      if (parsed.size > 50) parsed.clear();
      parsed.set(pem, key);
    }
    return key;
  };
}

const ROLES = new Set<Role>(['student', 'teacher', 'admin']);

/**
 * Verifies an access token; a bad token is an AppError 401 with no detail on why, and keys that
 * cannot be fetched (identity down) a 503 service_unavailable.
 */
export async function verifyAccessToken(token: string, resolveKey: KeyResolver): Promise<Principal> {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload === 'string') throw errors.unauthorized('The bearer token is not valid.');
  const { alg, kid } = decoded.header;
  if (alg !== TOKEN_ALGORITHM || typeof kid !== 'string' || kid.length === 0 || kid.length > 200) {
    throw errors.unauthorized('The bearer token is not valid.');
  }
  let key: KeyObject | string;
  try {
    key = await resolveKey(kid);
  } catch (err) {
    if (err instanceof UnknownKeyError || (err as Error)?.name === 'UnknownKeyError') throw errors.unauthorized('The bearer token is not valid.');
    throw errors.unavailable('The signing keys cannot be read right now; try again shortly.');
  }
  let payload: JwtPayload;
  try {
    payload = jwt.verify(token, key, {
      algorithms: [TOKEN_ALGORITHM],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      clockTolerance: 5,
    }) as JwtPayload;
  } catch {
    throw errors.unauthorized('The bearer token is not valid or has expired.');
  }
  if (payload.typ !== 'access' || typeof payload.sub !== 'string' || !ROLES.has(payload.role as Role)) {
    throw errors.unauthorized('The bearer token is not valid.');
  }
  return { userId: payload.sub, role: payload.role as Role, email: typeof payload.email === 'string' ? payload.email : undefined };
}

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;

/** The bearer token of an Authorization header value (the gateway reads it off a plain node request). */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}

export function bearerToken(req: Request): string | undefined {
  return bearerTokenOf(req.headers.authorization);
}

export interface Auth {
  requireAuth: RequestHandler;
  requireRole: (...roles: Role[]) => RequestHandler;
  /** Verifies a token, or answers from the cache of recently verified ones. */
  verify: (token: string) => Promise<Principal>;
  /** The cache behind `verify` (the gateway reads it without a promise on its hot path). */
  tokens: TokenCheck;
}

/** A verified token is reused for at most 30 s (and never past its exp); 10,000 tokens at most. */
export const DEFAULT_TOKEN_CACHE = { ttlMs: 30_000, maxEntries: 10_000 } as const;

/**
 * `requireAuth` / `requireRole` middleware: every service verifies tokens itself (DESIGN.md
 * rule 6), through a short cache of verified tokens (`tokenCache.ttlMs` 0 turns it off).
 */
export function createAuth(resolveKey: KeyResolver, options: { tokenCache?: { ttlMs: number; maxEntries: number } } = {}): Auth {
  const tokens = createTokenCheck((token) => verifyAccessToken(token, resolveKey), options.tokenCache ?? DEFAULT_TOKEN_CACHE);
  const verify = (token: string): Promise<Principal> => {
    const cached = tokens.cached(token);
    return cached ? Promise.resolve(cached) : tokens.verify(token);
  };
  const requireAuth: RequestHandler = async (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req);
    if (!token) return next(errors.unauthorized());
    try {
      req.principal = await verify(token);
      extendContext({ userId: req.principal.userId });
      next();
    } catch (err) {
      next(err);
    }
  };
  const requireRole =
    (...roles: Role[]): RequestHandler =>
    (req, _res, next) => {
      if (!req.principal) return next(errors.unauthorized());
      if (!roles.includes(req.principal.role)) return next(errors.forbidden(`This needs the role ${roles.join(' or ')}.`));
      next();
    };
  return { requireAuth, requireRole, verify, tokens };
}

/** The authenticated principal of a request that passed requireAuth. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw errors.unauthorized();
  return req.principal;
}
