import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER, type Role } from '@guitaronline/platform';
import type { KeySet } from './signing-keys';

export interface AccessTokenSubject {
  id: string;
  role: Role;
  email: string;
}

/** ES256 access token with a `kid`, the claims every service checks (platform verifyAccessToken). */
export function signAccessToken(keys: KeySet, subject: AccessTokenSubject, now: Date, ttlSeconds: number): string {
  const iat = Math.floor(now.getTime() / 1000);
  return jwt.sign({ sub: subject.id, role: subject.role, email: subject.email, typ: 'access', iat }, keys.active.privateKey, {
    algorithm: TOKEN_ALGORITHM,
    keyid: keys.active.kid,
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    expiresIn: ttlSeconds,
    jwtid: randomUUID(),
  });
}
