import type { Knex } from 'knex';
import { lockSerializationKey, payloadFieldKey } from '@guitaronline/messaging';
import { SERVICE_NAME } from '../config';

/** The service's database handle and a transaction on it (repositories accept either). */
export type Db = Knex;
export type Tx = Knex.Transaction;
export type Queryable = Knex | Knex.Transaction;

/**
 * The lock billing's consumer holds while it handles one booking's events (`serializeBy` on
 * `bookingId`, messaging/booking-handlers.ts; the consumer is named after the service), taken for
 * another booking than the event's.
 */
export function lockBooking(tx: Tx, bookingId: string): Promise<void> {
  return lockSerializationKey(tx, SERVICE_NAME, payloadFieldKey('bookingId', bookingId));
}
