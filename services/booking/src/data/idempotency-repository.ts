import type { Knex } from 'knex';

export interface StoredResponse {
  requestHash: string;
  responseStatus: number;
  responseBody: unknown;
}

/** `Idempotency-Key` records: the first successful response of (user, key), written in the request's own transaction. */
export class IdempotencyRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  async find(userId: string, key: string): Promise<StoredResponse | undefined> {
    const row = await this.db('idempotency_keys').where({ user_id: userId, key }).first();
    if (!row) return undefined;
    return { requestHash: row.request_hash, responseStatus: row.response_status, responseBody: row.response_body };
  }

  async save(userId: string, key: string, response: StoredResponse, now: Date): Promise<void> {
    await this.db('idempotency_keys').insert({
      user_id: userId,
      key,
      request_hash: response.requestHash,
      response_status: response.responseStatus,
      response_body: JSON.stringify(response.responseBody),
      created_at: now,
    });
  }

  /** Keys are kept long enough for any client retry, then purged (nothing grows without bound). */
  async purgeOlderThan(cutoff: Date): Promise<number> {
    return this.db('idempotency_keys').where('created_at', '<', cutoff).delete();
  }
}
