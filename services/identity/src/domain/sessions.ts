import { randomUUID } from 'node:crypto';
import { AppError, type Knex } from '@guitaronline/platform';
import { findUserByEmail, findUserById, type User } from '../data/user-repository';
import {
  createFamily,
  findFamilyForUpdate,
  findToken,
  findTokenForUpdate,
  insertRefreshToken,
  markSpent,
  revokeFamily,
} from '../data/refresh-token-repository';
import { signAccessToken } from './access-tokens';
import { normaliseEmail, type IdentityDeps } from './identity-deps';
import { hashRefreshToken, judgeRefreshToken, newRefreshToken, refreshExpiry } from './refresh-tokens';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

const invalidCredentials = () => new AppError('invalid_credentials', 401, 'The email or password is not correct.');
const invalidRefreshToken = () => new AppError('invalid_refresh_token', 401, 'The refresh token is not valid or has expired.');
const refreshTokenReused = () =>
  new AppError('refresh_token_reused', 401, 'This refresh token was already used; every session of its login has been signed out.');

async function issuePair(trx: Knex.Transaction, deps: IdentityDeps, user: User, familyId: string, now: Date): Promise<{ pair: TokenPair; tokenId: string }> {
  const { token, hash } = newRefreshToken();
  const tokenId = randomUUID();
  await insertRefreshToken(trx, { id: tokenId, familyId, userId: user.id, hash, issuedAt: now, expiresAt: refreshExpiry(now, deps.refreshTokenTtlDays) });
  return {
    tokenId,
    pair: {
      accessToken: signAccessToken(deps.keys, user, now, deps.accessTokenTtlSeconds),
      refreshToken: token,
      tokenType: 'Bearer',
      expiresIn: deps.accessTokenTtlSeconds,
    },
  };
}

/**
 * Logs in with email and password. An unknown email and a wrong password give the same
 * answer after the same bcrypt work, so neither the body nor the timing tells them apart.
 */
export async function logIn(deps: IdentityDeps, credentials: { email: string; password: string }): Promise<TokenPair> {
  const user = await findUserByEmail(deps.db, normaliseEmail(credentials.email));
  const ok = await deps.hasher.verify(credentials.password, user?.passwordHash ?? null);
  if (!user || !ok) {
    deps.observer?.login('failure');
    throw invalidCredentials();
  }
  const now = deps.clock();
  const { pair } = await deps.db.transaction(async (trx) => {
    const familyId = randomUUID();
    await createFamily(trx, { id: familyId, userId: user.id, now });
    return issuePair(trx, deps, user, familyId, now);
  });
  deps.observer?.login('success');
  return pair;
}

type RefreshOutcome = { kind: 'rotated'; pair: TokenPair } | { kind: 'reused'; familyId: string } | { kind: 'invalid' };

/**
 * Rotates a refresh token: the presented one is spent and a new one issued in the same
 * family, in one transaction holding the token's row lock, so two concurrent refreshes of
 * one token cannot both succeed (the second one sees it spent). A spent token presented
 * again revokes the whole family; the revoke commits even though the answer is a 401.
 */
export async function refreshSession(deps: IdentityDeps, refreshToken: string): Promise<TokenPair> {
  const hash = hashRefreshToken(refreshToken);
  const now = deps.clock();
  const outcome = await deps.db.transaction(async (trx): Promise<RefreshOutcome> => {
    const stored = await findTokenForUpdate(trx, hash);
    if (!stored) return { kind: 'invalid' };
    const family = await findFamilyForUpdate(trx, stored.familyId);
    if (!family) return { kind: 'invalid' };
    const verdict = judgeRefreshToken({ expiresAt: stored.expiresAt, spentAt: stored.spentAt, familyRevokedAt: family.revokedAt }, now);
    if (verdict === 'reused') {
      await revokeFamily(trx, family.id, 'reuse', now);
      return { kind: 'reused', familyId: family.id };
    }
    if (verdict !== 'rotate') return { kind: 'invalid' };
    // the role is read again, so a promotion shows in the next access token
    const user = await findUserById(trx, stored.userId);
    if (!user) return { kind: 'invalid' };
    const { pair, tokenId } = await issuePair(trx, deps, user, family.id, now);
    await markSpent(trx, stored.id, tokenId, now);
    return { kind: 'rotated', pair };
  });
  if (outcome.kind === 'reused') {
    deps.observer?.refreshReuse();
    throw refreshTokenReused();
  }
  if (outcome.kind === 'invalid') throw invalidRefreshToken();
  return outcome.pair;
}

/**
 * Ends the login the refresh token belongs to (its whole family). Idempotent, and silent
 * about tokens that are unknown or belong to someone else.
 */
export async function logOut(deps: IdentityDeps, userId: string, refreshToken: string): Promise<void> {
  const stored = await findToken(deps.db, hashRefreshToken(refreshToken));
  if (!stored || stored.userId !== userId) return;
  await revokeFamily(deps.db, stored.familyId, 'logout', deps.clock());
}
