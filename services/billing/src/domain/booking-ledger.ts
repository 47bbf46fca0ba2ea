import type { DomainEvent, EventPayload } from '@guitaronline/contracts';
import { newEnvelopes, recordEvent, type InboxClaim } from '@guitaronline/messaging';
import { writeAudit } from '../data/audit-repository';
import { lockBooking, type Db, type Queryable, type Tx } from '../data/db';
import {
  appendLedgerEntry,
  billingStateOfBooking,
  markBookingSeen,
  recordDebitRejection,
  rememberCanceledBooking,
  type CanceledBooking,
  type LedgerEntry,
} from '../data/ledger-repository';
import { creditOneLesson, debitFirstRequest, debitOneLesson, packagesOfStudent } from '../data/package-repository';
import type { BillingDeps } from './deps';
import { expireOverdue } from './packages';
import { debitRejectionReason, packageEventPayload, packageView, systemActor, type DebitRejectReason } from './package-rules';

export type DebitOutcome =
  | { kind: 'debited'; packageId: string; lessonsLeft: number; replayed: boolean; creditedAtOnce: boolean }
  | { kind: 'rejected'; reason: DebitRejectReason; replayed: boolean };

type Deps = Pick<BillingDeps, 'clock' | 'logger'>;

/**
 * booking.confirmation_requested → take one lesson for the booking, or say why not.
 * Runs under the booking's lock: billing's consumer handles one booking's events at a time
 * (`oneBookingAtATime`), so "is there a debit / a tombstone?" is never answered "no" by two
 * racing transactions — the fast path (`debitAtOnce`), which takes no lock, is ordered against
 * them by the booking's `seen_bookings` row instead; the ledger's UNIQUE(booking_id, kind)
 * stays the last line of defence.
 *
 * - Package choice: the given packageId (the student's, active, unexpired, lessons left — no
 *   fallback to another package), else the student's debitable package that expires first.
 * - Twice, or re-requested by booking's watchdog (attempt > 1): the ledger has the booking's
 *   debit → the same `billing.lesson.debited` is published again, nothing is debited; a booking
 *   already rejected gets the same rejection again (an answer never changes, so booking can act
 *   on whichever copy it sees first).
 * - After its cancel/rejection (out of order): the booking must cost nothing. If a lesson can be
 *   taken it is taken and given back at once (debited + credited, ledger complete, balance
 *   unchanged); otherwise the rejection is the answer.
 * - A reschedule's successor whose predecessor's cancel is refundable: the predecessor's lesson
 *   comes back first (see `takeBackPredecessorLesson`), so a package at 0 still pays for the
 *   successor, whichever of the two events billing sees first.
 */
export async function debitLessonForBooking(tx: Tx, request: EventPayload<'booking.confirmation_requested'>, deps: Deps): Promise<DebitOutcome> {
  const { bookingId, studentId } = request;
  // the usual case (a first request, a package that does not run out) in one statement with its
  // event; either way the booking is marked seen before its state is read (debitFirstRequest)
  if (mayBeUsual(request)) {
    const taken = await debitUsualRequest(tx, request, deps.clock());
    if (taken) return { kind: 'debited', packageId: taken.id, lessonsLeft: taken.lessonsLeft, replayed: false, creditedAtOnce: false };
  } else {
    await markBookingSeen(tx, bookingId, deps.clock());
  }
  // the tombstone is read before the debit: a cancel writing it holds the same lock, so it cannot appear in between
  const state = await billingStateOfBooking(tx, bookingId);
  if (state.debit) {
    await announceDebit(tx, state.debit, deps.clock());
    return { kind: 'debited', packageId: state.debit.packageId, lessonsLeft: state.debit.lessonsLeftAfter, replayed: true, creditedAtOnce: false };
  }
  if (state.rejection) {
    await announceRejection(tx, bookingId, state.rejection.studentId, state.rejection.reason, deps.clock());
    return { kind: 'rejected', reason: state.rejection.reason, replayed: true };
  }

  const now = deps.clock();
  if (request.rescheduledFrom?.refundable) await takeBackPredecessorLesson(tx, request.rescheduledFrom.bookingId, now);
  const pkg = await debitOneLesson(tx, { bookingId, studentId, packageId: request.packageId, now });
  if (!pkg) {
    await expireOverdue(tx, { now, studentId });
    const reason = debitRejectionReason(await packagesOfStudent(tx, studentId), now, request.packageId);
    await recordDebitRejection(tx, { bookingId, studentId, reason }, now);
    await announceRejection(tx, bookingId, studentId, reason, now);
    return { kind: 'rejected', reason, replayed: false };
  }

  // what debitOneLesson wrote to the ledger along with the debit
  const debit: LedgerEntry = { bookingId, kind: 'debit', packageId: pkg.id, studentId, lessonsLeftAfter: pkg.lessonsLeft, createdAt: now };
  if (pkg.status === 'depleted') {
    await recordEvent(tx, { type: 'billing.package.depleted', aggregateId: pkg.id, payload: packageEventPayload(pkg), occurredAt: now });
  }
  await announceDebit(tx, debit, now);

  if (state.canceled) {
    deps.logger.info({ bookingId, source: state.canceled.source }, 'debit requested for a booking already canceled; giving the lesson back at once');
    await giveLessonBack(tx, debit, now);
    return { kind: 'debited', packageId: pkg.id, lessonsLeft: pkg.lessonsLeft, replayed: false, creditedAtOnce: true };
  }
  return { kind: 'debited', packageId: pkg.id, lessonsLeft: pkg.lessonsLeft, replayed: false, creditedAtOnce: false };
}

/**
 * The usual case of debitLessonForBooking — billing has no record of the booking, the request
 * does not carry a refundable predecessor, the package does not run out — as one autocommit
 * statement that also writes the message's inbox row: the consumer's fast path, without the
 * booking's lock (the booking's `seen_bookings` row orders it against the locked handlers,
 * see debitFirstRequest). False when it debited nothing: debitLessonForBooking then runs as usual.
 */
export async function debitAtOnce(deps: Deps & { db: Db }, request: EventPayload<'booking.confirmation_requested'>, inbox: InboxClaim): Promise<boolean> {
  if (!mayBeUsual(request)) return false;
  return (await debitUsualRequest(deps.db, request, deps.clock(), { inbox })) !== undefined;
}

/** A request `debitFirstRequest` may take: one without a refundable predecessor, whose lesson only the general path gives back first. */
function mayBeUsual(request: EventPayload<'booking.confirmation_requested'>): boolean {
  return !request.rescheduledFrom?.refundable;
}

function debitUsualRequest(db: Queryable, request: EventPayload<'booking.confirmation_requested'>, now: Date, options: { inbox?: InboxClaim } = {}) {
  const { bookingId, studentId, packageId } = request;
  return debitFirstRequest(db, { bookingId, studentId, packageId, now }, debitedEvent({ bookingId, studentId, packageId }, now), options);
}

/**
 * The lesson of the booking a reschedule replaced goes back before its successor is debited:
 * booking decided (once) that the cancel is refundable, and the successor may need exactly that
 * lesson. Under the predecessor's lock as well (a newer booking locks an older one, never the
 * other way: no cycle). The predecessor's own `booking.canceled`, whenever it arrives, finds the
 * credit in the ledger and changes nothing.
 */
async function takeBackPredecessorLesson(tx: Tx, predecessorId: string, now: Date): Promise<void> {
  await lockBooking(tx, predecessorId);
  await markBookingSeen(tx, predecessorId, now);
  const predecessor = await billingStateOfBooking(tx, predecessorId);
  if (!predecessor.debit || predecessor.credit) return;
  await giveLessonBack(tx, predecessor.debit, now);
}

export type CreditOutcome = 'credited' | 'already_credited' | 'not_refundable' | 'remembered';

/**
 * booking.canceled (and booking.rejected, which is a refundable "cancel" of a booking that was
 * never confirmed) → give the booking's lesson back once. Runs under the booking's lock, as above.
 *
 * - Credited when the booking was debited, not yet credited, and the cancel is refundable — or
 *   the booking was never confirmed (a student is never charged for a booking that did not happen).
 * - Twice: the ledger already has the credit (UNIQUE booking_id, kind) → nothing.
 * - Early (before its debit): remembered as a tombstone; the later debit request is settled by
 *   `debitLessonForBooking` so the end balance is unchanged.
 */
export async function creditLessonForBooking(tx: Tx, cancel: CanceledBooking, deps: Deps): Promise<CreditOutcome> {
  const now = deps.clock();
  await rememberCanceledBooking(tx, cancel, now);
  const { debit, credit } = await billingStateOfBooking(tx, cancel.bookingId);
  if (!debit) return 'remembered';
  if (credit) return 'already_credited';
  if (!cancel.refundable && cancel.wasConfirmed) return 'not_refundable';
  await giveLessonBack(tx, debit, now);
  return 'credited';
}

async function giveLessonBack(tx: Tx, debit: LedgerEntry, now: Date): Promise<void> {
  const { pkg, previousStatus } = await creditOneLesson(tx, debit.packageId, now);
  await appendLedgerEntry(tx, { ...debit, kind: 'credit', lessonsLeftAfter: pkg.lessonsLeft, createdAt: now });
  await recordEvent(tx, {
    type: 'billing.lesson.credited',
    aggregateId: debit.bookingId,
    payload: { bookingId: debit.bookingId, packageId: pkg.id, studentId: debit.studentId, lessonsLeft: pkg.lessonsLeft },
    occurredAt: now,
  });
  if (previousStatus === 'depleted' && pkg.status === 'expired') {
    await writeAudit(tx, {
      actor: systemActor,
      action: 'package.expired',
      target: `package:${pkg.id}`,
      before: { ...packageView(pkg), status: previousStatus, lessonsLeft: pkg.lessonsLeft - 1 },
      after: packageView(pkg),
      at: now,
    });
    await recordEvent(tx, { type: 'billing.package.expired', aggregateId: pkg.id, payload: packageEventPayload(pkg), occurredAt: now });
  }
}

/** Stands for the package until the statement that chooses it fills it in (a valid uuid, so the payload is checked as usual). */
const PACKAGE_TO_FILL_IN = '00000000-0000-0000-0000-000000000000';

/**
 * `billing.lesson.debited` for `debitFirstRequest`, before the debit: its package (unless the
 * request names one) and its balance are filled in by the statement that takes the lesson.
 */
function debitedEvent(request: { bookingId: string; studentId: string; packageId?: string | null }, now: Date): DomainEvent<'billing.lesson.debited'> {
  const [event] = newEnvelopes([
    {
      type: 'billing.lesson.debited',
      aggregateId: request.bookingId,
      payload: { bookingId: request.bookingId, packageId: request.packageId ?? PACKAGE_TO_FILL_IN, studentId: request.studentId, lessonsLeft: 0 },
      occurredAt: now,
    },
  ]);
  return event as DomainEvent<'billing.lesson.debited'>;
}

async function announceDebit(tx: Tx, debit: LedgerEntry, now: Date): Promise<void> {
  await recordEvent(tx, {
    type: 'billing.lesson.debited',
    aggregateId: debit.bookingId,
    payload: { bookingId: debit.bookingId, packageId: debit.packageId, studentId: debit.studentId, lessonsLeft: debit.lessonsLeftAfter },
    occurredAt: now,
  });
}

async function announceRejection(tx: Tx, bookingId: string, studentId: string, reason: DebitRejectReason, now: Date): Promise<void> {
  await recordEvent(tx, { type: 'billing.lesson.debit_rejected', aggregateId: bookingId, payload: { bookingId, studentId, reason }, occurredAt: now });
}
