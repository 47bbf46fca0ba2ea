import type { DebitRejectReason } from '../domain/package-rules';
import type { Knex } from 'knex';
import type { Queryable, Tx } from './db';

export interface LedgerEntry {
  bookingId: string;
  kind: 'debit' | 'credit';
  packageId: string;
  studentId: string;
  lessonsLeftAfter: number;
  createdAt: Date;
}

interface LedgerRow {
  booking_id: string;
  kind: 'debit' | 'credit';
  package_id: string;
  student_id: string;
  lessons_left_after: number;
  created_at: Date;
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    bookingId: row.booking_id,
    kind: row.kind,
    packageId: row.package_id,
    studentId: row.student_id,
    lessonsLeftAfter: row.lessons_left_after,
    createdAt: row.created_at,
  };
}

/** UNIQUE(booking_id, kind): a second credit of a booking fails here, whatever the code above did (a second debit fails in debitOneLesson). */
export async function appendLedgerEntry(tx: Tx, entry: LedgerEntry): Promise<void> {
  await tx('package_ledger').insert({
    booking_id: entry.bookingId,
    kind: entry.kind,
    package_id: entry.packageId,
    student_id: entry.studentId,
    lessons_left_after: entry.lessonsLeftAfter,
    created_at: entry.createdAt,
  });
}

export interface DebitRejection {
  bookingId: string;
  studentId: string;
  reason: DebitRejectReason;
}

export async function recordDebitRejection(tx: Tx, rejection: DebitRejection, now: Date): Promise<void> {
  await tx('debit_rejections')
    .insert({ booking_id: rejection.bookingId, student_id: rejection.studentId, reason: rejection.reason, created_at: now })
    .onConflict('booking_id')
    .ignore();
}

export interface CanceledBooking {
  bookingId: string;
  source: 'booking.canceled' | 'booking.rejected';
  refundable: boolean;
  wasConfirmed: boolean;
}

/**
 * Remembers the first cancel/rejection seen for a booking (later ones change nothing), and marks
 * the booking seen in the same statement (`markBookingSeen`): a fast debit in flight ends first,
 * so the caller's next statement sees it.
 */
export async function rememberCanceledBooking(tx: Tx, cancel: CanceledBooking, now: Date): Promise<void> {
  const seen = seenBookingRow(tx, cancel.bookingId, now).toSQL();
  await tx.raw(
    `with seen as (${seen.sql})
     insert into canceled_bookings (booking_id, source, refundable, was_confirmed, received_at) values (?, ?, ?, ?, ?)
     on conflict (booking_id) do nothing`,
    [...seen.bindings, cancel.bookingId, cancel.source, cancel.refundable, cancel.wasConfirmed, now],
  );
}

/**
 * The booking's `seen_bookings` row, unless it has one; returns the booking id when this made
 * it. Every writer of the row uses this one statement: the debit fast path claims it before it
 * debits (`debitFirstRequest`), the locked handlers before they read the booking's state.
 */
export function seenBookingRow(db: Queryable, bookingId: string, now: Date): Knex.Raw {
  return db.raw('insert into seen_bookings (booking_id, seen_at) values (?, ?) on conflict (booking_id) do nothing returning booking_id', [bookingId, now]);
}

/**
 * Marks the booking seen by billing. The debit fast path claims the same row before it debits,
 * so this waits for such a statement in flight and the caller's next statement sees what it
 * wrote: a locked handler calls it before it reads the booking's state.
 */
export async function markBookingSeen(tx: Tx, bookingId: string, now: Date): Promise<void> {
  await seenBookingRow(tx, bookingId, now);
}

/** What billing has recorded about one booking. */
export interface BookingBillingState {
  debit?: LedgerEntry;
  credit?: LedgerEntry;
  rejection?: DebitRejection;
  canceled?: CanceledBooking;
}

/** A row as row_to_json gives it: timestamps come as ISO strings. */
type JsonRow<Row> = { [K in keyof Row]: Row[K] extends Date ? string : Row[K] };

interface BookingStateRow {
  debit: JsonRow<LedgerRow> | null;
  credit: JsonRow<LedgerRow> | null;
  rejection: { booking_id: string; student_id: string; reason: DebitRejectReason } | null;
  canceled: { booking_id: string; source: CanceledBooking['source']; refundable: boolean; was_confirmed: boolean } | null;
}

function toEntryOrNone(row: BookingStateRow['debit']): LedgerEntry | undefined {
  return row ? toEntry({ ...row, created_at: new Date(row.created_at) }) : undefined;
}

function toRejectionOrNone(row: BookingStateRow['rejection']): DebitRejection | undefined {
  return row ? { bookingId: row.booking_id, studentId: row.student_id, reason: row.reason } : undefined;
}

function toCanceledOrNone(row: BookingStateRow['canceled']): CanceledBooking | undefined {
  return row ? { bookingId: row.booking_id, source: row.source, refundable: row.refundable, wasConfirmed: row.was_confirmed } : undefined;
}

/**
 * The booking's ledger entries, debit rejection and cancel tombstone in ONE statement. Read it
 * under the booking's lock (the consumer's, per booking) and after `markBookingSeen`: every
 * handler that writes any of them runs under that lock, except the fast-path debit, which
 * claims the seen row first — so no other transaction changes them before this one ends.
 */
export async function billingStateOfBooking(tx: Tx, bookingId: string): Promise<BookingBillingState> {
  // no FROM: always exactly one row, each column null when the booking has no such record
  const result = await tx.raw<{ rows: [BookingStateRow] }>(
    `select
       (select row_to_json(l) from package_ledger l where l.booking_id = :bookingId and l.kind = 'debit') as debit,
       (select row_to_json(l) from package_ledger l where l.booking_id = :bookingId and l.kind = 'credit') as credit,
       (select row_to_json(r) from debit_rejections r where r.booking_id = :bookingId) as rejection,
       (select row_to_json(c) from canceled_bookings c where c.booking_id = :bookingId) as canceled`,
    { bookingId },
  );
  const row = result.rows[0];
  return {
    debit: toEntryOrNone(row.debit),
    credit: toEntryOrNone(row.credit),
    rejection: toRejectionOrNone(row.rejection),
    canceled: toCanceledOrNone(row.canceled),
  };
}
