import type { Knex } from '@guitaronline/platform';

type Db = Knex | Knex.Transaction;

export interface StoredRefreshToken {
  id: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  spentAt: Date | null;
}

export interface RefreshFamily {
  id: string;
  userId: string;
  revokedAt: Date | null;
}

export async function createFamily(db: Db, family: { id: string; userId: string; now: Date }): Promise<void> {
  await db('refresh_token_families').insert({ id: family.id, user_id: family.userId, created_at: family.now });
}

export async function insertRefreshToken(
  db: Db,
  token: { id: string; familyId: string; userId: string; hash: Buffer; issuedAt: Date; expiresAt: Date },
): Promise<void> {
  await db('refresh_tokens').insert({
    id: token.id,
    family_id: token.familyId,
    user_id: token.userId,
    token_hash: token.hash,
    issued_at: token.issuedAt,
    expires_at: token.expiresAt,
  });
}

/** Locks the token row: a second refresh of the same token waits, then sees it spent. */
export async function findTokenForUpdate(trx: Knex.Transaction, hash: Buffer): Promise<StoredRefreshToken | undefined> {
  const row = await trx('refresh_tokens').where({ token_hash: hash }).forUpdate().first('id', 'family_id', 'user_id', 'expires_at', 'spent_at');
  return row ? { id: row.id, familyId: row.family_id, userId: row.user_id, expiresAt: row.expires_at, spentAt: row.spent_at } : undefined;
}

export async function findToken(db: Db, hash: Buffer): Promise<StoredRefreshToken | undefined> {
  const row = await db('refresh_tokens').where({ token_hash: hash }).first('id', 'family_id', 'user_id', 'expires_at', 'spent_at');
  return row ? { id: row.id, familyId: row.family_id, userId: row.user_id, expiresAt: row.expires_at, spentAt: row.spent_at } : undefined;
}

/** Locks the family: rotation and revocation of one family are serialised. */
export async function findFamilyForUpdate(trx: Knex.Transaction, id: string): Promise<RefreshFamily | undefined> {
  const row = await trx('refresh_token_families').where({ id }).forUpdate().first('id', 'user_id', 'revoked_at');
  return row ? { id: row.id, userId: row.user_id, revokedAt: row.revoked_at } : undefined;
}

export async function markSpent(trx: Knex.Transaction, id: string, replacedBy: string, now: Date): Promise<void> {
  await trx('refresh_tokens').where({ id }).whereNull('spent_at').update({ spent_at: now, replaced_by: replacedBy });
}

/** Revokes a family once; a second revoke keeps the first time and reason. */
export async function revokeFamily(db: Db, id: string, reason: 'reuse' | 'logout', now: Date): Promise<boolean> {
  const count = await db('refresh_token_families').where({ id }).whereNull('revoked_at').update({ revoked_at: now, revoked_reason: reason });
  return count > 0;
}

/** Drops tokens expired longer than the grace period, then families left without tokens. */
export async function purgeExpiredTokens(db: Db, olderThan: Date): Promise<number> {
  const removed = await db('refresh_tokens').where('expires_at', '<', olderThan).delete();
  await db('refresh_token_families as f')
    .where('f.created_at', '<', olderThan)
    .whereNotExists(db('refresh_tokens as t').whereRaw('t.family_id = f.id').select(db.raw('1')))
    .delete();
  return removed;
}
