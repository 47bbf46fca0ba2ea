import type { Knex } from '@guitaronline/platform';
import type { PublicJwk } from '../domain/signing-keys';

export interface StoredSigningKey {
  kid: string;
  privatePem: string;
  publicJwk: PublicJwk;
  active: boolean;
}

/** Inserts the key unless another one is already active (the partial unique index decides). */
export async function insertActiveKeyIfNone(db: Knex, key: { kid: string; privatePem: string; publicJwk: PublicJwk }): Promise<void> {
  await db.raw(
    `insert into signing_keys (kid, private_pem, public_jwk, active) values (?, ?, ?::jsonb, true)
     on conflict (active) where active do nothing`,
    [key.kid, key.privatePem, JSON.stringify(key.publicJwk)],
  );
}

export async function listSigningKeys(db: Knex): Promise<StoredSigningKey[]> {
  const rows = await db('signing_keys').select('kid', 'private_pem', 'public_jwk', 'active').orderBy('created_at', 'desc');
  return rows.map((r) => ({ kid: r.kid, privatePem: r.private_pem, publicJwk: r.public_jwk, active: r.active }));
}
