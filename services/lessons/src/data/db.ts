import type { Knex } from 'knex';

/** The service's database handle and a transaction on it (repositories accept either). */
export type Db = Knex;
export type Tx = Knex.Transaction;
export type Queryable = Knex | Knex.Transaction;

/**
 * Serialises everything this service does about one booking for the rest of the transaction:
 * the confirmed and canceled handlers of the same booking never interleave, so "is there a
 * tombstone?" / "is there a lesson?" cannot both be answered "no" by two racing transactions.
 */
export async function lockBooking(tx: Tx, bookingId: string): Promise<void> {
  await tx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`lessons:booking:${bookingId}`]);
}
