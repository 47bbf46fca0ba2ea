import type { Queryable, Tx } from './db';

export interface StoredResponse {
  requestHash: string;
  status: number;
  body: unknown;
}

/** Serialises requests carrying the same key from the same caller until the first one commits. */
export async function lockIdempotencyKey(tx: Tx, actorId: string, key: string): Promise<void> {
  await tx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`billing:idempotency:${actorId}:${key}`]);
}

export async function findStoredResponse(tx: Tx, actorId: string, key: string): Promise<StoredResponse | undefined> {
  const row = await tx('idempotency_keys').where({ actor_id: actorId, key }).first();
  return row ? { requestHash: row.request_hash, status: row.response_status, body: row.response_body } : undefined;
}

export async function storeResponse(tx: Tx, actorId: string, key: string, response: StoredResponse, now: Date): Promise<void> {
  await tx('idempotency_keys').insert({
    actor_id: actorId,
    key,
    request_hash: response.requestHash,
    response_status: response.status,
    response_body: JSON.stringify(response.body),
    created_at: now,
  });
}

export async function purgeIdempotencyKeys(db: Queryable, olderThan: Date): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', olderThan).delete();
}
