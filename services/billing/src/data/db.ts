import type { Knex } from 'knex';

/** The service's database handle and a transaction on it (repositories accept either). */
export type Db = Knex;
export type Tx = Knex.Transaction;
export type Queryable = Knex | Knex.Transaction;

/**
 * Serialises everything billing does about one booking (debit request, cancel, rejection) for
 * the rest of the transaction, so "is there a debit / a tombstone?" is never answered "no" by
 * two racing transactions. The ledger's UNIQUE(booking_id, kind) stays the last line of defence.
 */
export async function lockBooking(tx: Tx, bookingId: string): Promise<void> {
  await tx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`billing:booking:${bookingId}`]);
}
