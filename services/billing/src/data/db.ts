import type { Knex } from 'knex';
import { lockSerializationKey, payloadFieldKey } from '@guitaronline/messaging';

/** The service's database handle and a transaction on it (repositories accept either). */
export type Db = Knex;
export type Tx = Knex.Transaction;
export type Queryable = Knex | Knex.Transaction;

/**
 * The lock billing's consumer holds while it handles one booking's events (`serializeBy` on
 * `bookingId`, messaging/booking-handlers.ts), taken for another booking than the event's.
 */
export function lockBooking(tx: Tx, bookingId: string): Promise<void> {
  return lockSerializationKey(tx, 'billing', payloadFieldKey('bookingId', bookingId));
}
