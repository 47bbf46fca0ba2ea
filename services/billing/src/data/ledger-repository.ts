import type { DebitRejectReason } from '../domain/package-rules';
import type { Tx } from './db';

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

export async function ledgerOfBooking(tx: Tx, bookingId: string): Promise<{ debit?: LedgerEntry; credit?: LedgerEntry }> {
  const rows: LedgerRow[] = await tx('package_ledger').where({ booking_id: bookingId });
  const entries = rows.map(toEntry);
  return { debit: entries.find((e) => e.kind === 'debit'), credit: entries.find((e) => e.kind === 'credit') };
}

/** UNIQUE(booking_id, kind): a second debit or credit of a booking fails here, whatever the code above did. */
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

export async function findDebitRejection(tx: Tx, bookingId: string): Promise<DebitRejection | undefined> {
  const row = await tx('debit_rejections').where({ booking_id: bookingId }).first();
  return row ? { bookingId: row.booking_id, studentId: row.student_id, reason: row.reason } : undefined;
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

/** Remembers the first cancel/rejection seen for a booking (later ones change nothing). */
export async function rememberCanceledBooking(tx: Tx, cancel: CanceledBooking, now: Date): Promise<void> {
  await tx('canceled_bookings')
    .insert({ booking_id: cancel.bookingId, source: cancel.source, refundable: cancel.refundable, was_confirmed: cancel.wasConfirmed, received_at: now })
    .onConflict('booking_id')
    .ignore();
}

export async function findCanceledBooking(tx: Tx, bookingId: string): Promise<CanceledBooking | undefined> {
  const row = await tx('canceled_bookings').where({ booking_id: bookingId }).first();
  return row ? { bookingId: row.booking_id, source: row.source, refundable: row.refundable, wasConfirmed: row.was_confirmed } : undefined;
}
