import type { Knex } from '@guitaronline/platform';
import { insertActiveKeyIfNone, listSigningKeys } from '../data/signing-key-repository';
import { generateDevSigningKey, KeySet, signingKeyFromPem } from './signing-keys';

/**
 * The configured key when one is given (production must); otherwise the development key
 * kept in the database — made on the first start, reused after, one for all replicas.
 */
export async function loadSigningKeys(db: Knex, configured: { pem?: string; kid?: string }): Promise<KeySet> {
  if (configured.pem && configured.kid) {
    const key = signingKeyFromPem(configured.pem, configured.kid);
    return new KeySet(key, [key.publicJwk]);
  }
  let stored = await listSigningKeys(db);
  if (!stored.some((k) => k.active)) {
    await insertActiveKeyIfNone(db, generateDevSigningKey());
    stored = await listSigningKeys(db);
  }
  const active = stored.find((k) => k.active);
  if (!active) throw new Error('no active signing key after creating one');
  return new KeySet(
    signingKeyFromPem(active.privatePem, active.kid),
    stored.map((k) => k.publicJwk),
  );
}
