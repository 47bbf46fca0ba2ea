import type { Knex } from 'knex';
import type { DomainEvent, EventType } from '@guitaronline/contracts';
import { changeWithEvents, changeWithFilledEvent, isoTimestampSql, type InboxClaim } from '@guitaronline/messaging';
import type { Booking, BookingStatus, Role } from '../domain/booking';
import { keysetPage, type Page } from '@guitaronline/platform';
import { bookingErrors } from '../domain/booking-errors';
import { isUniqueViolation } from './db-errors';

interface BookingRow {
  id: string;
  slot_id: string;
  student_id: string;
  teacher_id: string;
  package_id: string | null;
  status: BookingStatus;
  start_at: Date;
  end_at: Date;
  hold_expires_at: Date;
  refundable: boolean | null;
  reject_reason: string | null;
  cancel_reason: string | null;
  canceled_by: Role | null;
  canceled_by_id: string | null;
  rescheduled_from_id: string | null;
  rescheduled_to_id: string | null;
  confirm_requested_at: Date | null;
  confirm_attempts: number;
  confirmed_at: Date | null;
  canceled_at: Date | null;
  compensated_at: Date | null;
  correlation_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS: Record<keyof Booking, keyof BookingRow> = {
  id: 'id',
  slotId: 'slot_id',
  studentId: 'student_id',
  teacherId: 'teacher_id',
  packageId: 'package_id',
  status: 'status',
  startAt: 'start_at',
  endAt: 'end_at',
  holdExpiresAt: 'hold_expires_at',
  refundable: 'refundable',
  rejectReason: 'reject_reason',
  cancelReason: 'cancel_reason',
  canceledBy: 'canceled_by',
  canceledById: 'canceled_by_id',
  rescheduledFromId: 'rescheduled_from_id',
  rescheduledToId: 'rescheduled_to_id',
  confirmRequestedAt: 'confirm_requested_at',
  confirmAttempts: 'confirm_attempts',
  confirmedAt: 'confirmed_at',
  canceledAt: 'canceled_at',
  compensatedAt: 'compensated_at',
  correlationId: 'correlation_id',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
};

function toBooking(row: BookingRow): Booking {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(COLUMNS)) out[field] = row[column];
  return out as unknown as Booking;
}

function toRow(patch: Partial<Booking>): Partial<BookingRow> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value !== undefined) out[COLUMNS[field as keyof Booking]] = value;
  }
  return out as Partial<BookingRow>;
}

export interface BookingListFilter {
  studentId?: string;
  teacherId?: string;
  status?: BookingStatus;
  cursor?: string;
  limit: number;
}

/**
 * The payload fields of booking events that repeat the booking's own columns, as SQL over the
 * changed row: what `changeWithFilledEvent` fills in. One map per event; each names exactly the
 * fields of its payload that the change alone knows (booking-events.ts builds the same payloads
 * from a Booking; the booking tests hold the two to the same result).
 */
export const FILLED_FROM_BOOKING = {
  'booking.confirmation_requested': { teacherId: 'changed.teacher_id', startAt: isoTimestampSql('changed.start_at'), endAt: isoTimestampSql('changed.end_at') },
  'booking.confirmed': {
    slotId: 'changed.slot_id',
    studentId: 'changed.student_id',
    teacherId: 'changed.teacher_id',
    startAt: isoTimestampSql('changed.start_at'),
    endAt: isoTimestampSql('changed.end_at'),
  },
} as const satisfies Partial<Record<EventType, Record<string, string>>>;

type FilledType = keyof typeof FILLED_FROM_BOOKING;

/** What a confirm writes on the hold besides its status: the package asked for, the request's correlation id. */
export interface ConfirmChange {
  packageId: string | null;
  correlationId: string | null;
}

export class BookingRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  /**
   * Inserts a booking and, in the same statement, the events announcing it (built beforehand from
   * it); a second live booking on the slot is refused by the partial unique index.
   */
  async insert(booking: Booking, events: readonly DomainEvent[] = []): Promise<Booking> {
    try {
      const insert = this.db<BookingRow>('bookings').insert(toRow(booking)).returning('*');
      const [row] = events.length > 0 ? await changeWithEvents<BookingRow>(this.db, insert, events) : await insert;
      return toBooking(row as BookingRow);
    } catch (err) {
      if (isUniqueViolation(err, 'bookings_one_live_per_slot')) throw bookingErrors.slotUnavailable('The slot already has a live booking.');
      throw err;
    }
  }

  async findById(id: string): Promise<Booking | undefined> {
    const row = await this.db<BookingRow>('bookings').where({ id }).first();
    return row ? toBooking(row) : undefined;
  }

  async findForUpdate(id: string): Promise<Booking | undefined> {
    const row = await this.db<BookingRow>('bookings').where({ id }).forUpdate().first();
    return row ? toBooking(row) : undefined;
  }

  /**
   * Applies a change only while the booking is still in one of `from` (a conditional update:
   * a concurrent transition makes it return undefined instead of overwriting).
   */
  async transition(id: string, from: readonly BookingStatus[], patch: Partial<Booking>): Promise<Booking | undefined> {
    const [row] = await this.transitionQuery(id, from, patch);
    return row ? toBooking(row as BookingRow) : undefined;
  }

  /** `transition` and, in the same statement, its event (filled in from the booking: FILLED_FROM_BOOKING) if it took. */
  async transitionWithEvent<T extends FilledType>(
    id: string,
    from: readonly BookingStatus[],
    patch: Partial<Booking>,
    event: DomainEvent<T>,
    options: { inbox?: InboxClaim } = {},
  ): Promise<Booking | undefined> {
    const changed = await changeWithFilledEvent<BookingRow, T>(this.db, this.transitionQuery(id, from, patch), event, FILLED_FROM_BOOKING[event.type], options);
    return changed ? toBooking(changed.row) : undefined;
  }

  private transitionQuery(id: string, from: readonly BookingStatus[], patch: Partial<Booking>) {
    return this.db<BookingRow>('bookings')
      .where({ id })
      .whereIn('status', from as BookingStatus[])
      .update(toRow(patch) as never)
      .returning('*');
  }

  /**
   * hold → confirming in one conditional update when the booking is the student's hold and its
   * time has not run out; undefined otherwise (the caller reads the booking to say why).
   * The request's correlation id, when it has one, replaces the hold's.
   */
  async confirmLiveHold(id: string, studentId: string, now: Date, change: ConfirmChange): Promise<Booking | undefined> {
    const [row] = await this.confirmLiveHoldQuery(id, studentId, now, change);
    return row ? toBooking(row as BookingRow) : undefined;
  }

  /** `confirmLiveHold` and, in the same statement, `booking.confirmation_requested` (filled in from the booking) if it took. */
  async confirmLiveHoldWithEvent(
    id: string,
    studentId: string,
    now: Date,
    change: ConfirmChange,
    event: DomainEvent<'booking.confirmation_requested'>,
  ): Promise<Booking | undefined> {
    const query = this.confirmLiveHoldQuery(id, studentId, now, change);
    const changed = await changeWithFilledEvent<BookingRow, 'booking.confirmation_requested'>(this.db, query, event, FILLED_FROM_BOOKING[event.type]);
    return changed ? toBooking(changed.row) : undefined;
  }

  private confirmLiveHoldQuery(id: string, studentId: string, now: Date, change: ConfirmChange) {
    return this.db<BookingRow>('bookings')
      .where({ id, student_id: studentId, status: 'hold' })
      .where('hold_expires_at', '>', now)
      .update({
        status: 'confirming',
        package_id: change.packageId,
        confirm_requested_at: now,
        confirm_attempts: 1,
        correlation_id: this.db.raw('coalesce(?, correlation_id)', [change.correlationId]),
        updated_at: now,
      } as never)
      .returning('*');
  }

  async findLiveOnSlot(slotId: string): Promise<Booking | undefined> {
    const row = await this.db<BookingRow>('bookings').where({ slot_id: slotId }).whereIn('status', ['hold', 'confirming', 'confirmed']).first();
    return row ? toBooking(row) : undefined;
  }

  /** Holds on the slot whose time has run out, marked expired (the sweep may not have reached them yet). */
  async expireRunOutHoldsOnSlot(slotId: string, now: Date): Promise<Booking[]> {
    const rows = await this.db<BookingRow>('bookings')
      .where({ slot_id: slotId, status: 'hold' })
      .where('hold_expires_at', '<=', now)
      .update({ status: 'expired', updated_at: now } as never)
      .returning('*');
    return (rows as BookingRow[]).map(toBooking);
  }

  /**
   * What a new hold needs, in one round trip: the slot's run-out holds marked expired (as
   * `expireRunOutHoldsOnSlot`) and the number of the student's live holds. The count cannot
   * include a hold expired here: those ran out (`hold_expires_at <= now`), the count takes live ones.
   */
  async expireRunOutAndCountHolds(slotId: string, studentId: string, now: Date): Promise<{ runOut: Booking[]; activeHolds: number }> {
    const { rows } = await this.db.raw<{ rows: (BookingRow & { active_holds: string })[] }>(
      `with run_out as (
         update bookings set status = 'expired', updated_at = :now
         where slot_id = :slotId and status = 'hold' and hold_expires_at <= :now
         returning *)
       select run_out.*,
              (select count(*) from bookings where student_id = :studentId and status = 'hold' and hold_expires_at > :now) as active_holds
       from (select 1) as one left join run_out on true`,
      { slotId, studentId, now },
    );
    return { runOut: rows.filter((row) => row.id !== null).map(toBooking), activeHolds: Number(rows[0]?.active_holds ?? 0) };
  }

  /** Claims run-out holds (skipping rows another replica is working on) and marks them expired. */
  async expireRunOutHolds(now: Date, limit: number): Promise<Booking[]> {
    const { db } = this;
    const claimed = db('bookings')
      .select('id')
      .where('status', 'hold')
      .where('hold_expires_at', '<=', now)
      .orderBy('hold_expires_at')
      .limit(limit)
      .forUpdate()
      .skipLocked();
    const rows = await db<BookingRow>('bookings')
      .whereIn('id', claimed)
      .update({ status: 'expired', updated_at: now } as never)
      .returning('*');
    return (rows as BookingRow[]).map(toBooking);
  }

  /** Bookings confirming since before `requestedBefore`, locked for the watchdog (other replicas skip them). */
  async claimStuckConfirming(requestedBefore: Date, limit: number): Promise<Booking[]> {
    const rows = await this.db<BookingRow>('bookings')
      .where('status', 'confirming')
      .where('confirm_requested_at', '<=', requestedBefore)
      .orderBy('confirm_requested_at')
      .limit(limit)
      .forUpdate()
      .skipLocked();
    return rows.map(toBooking);
  }

  async countRunOutHolds(now: Date): Promise<number> {
    const row = await this.db('bookings').where('status', 'hold').where('hold_expires_at', '<=', now).count<{ n: string }[]>({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  async countStuckConfirming(requestedBefore: Date): Promise<number> {
    const row = await this.db('bookings')
      .where('status', 'confirming')
      .where('confirm_requested_at', '<=', requestedBefore)
      .count<{ n: string }[]>({ n: '*' })
      .first();
    return Number(row?.n ?? 0);
  }

  /** Newest first, keyset on (created_at, id). */
  async list(filter: BookingListFilter): Promise<Page<Booking>> {
    const q = this.db('bookings').select('*');
    if (filter.studentId) q.where('student_id', filter.studentId);
    if (filter.teacherId) q.where('teacher_id', filter.teacherId);
    if (filter.status) q.where('status', filter.status);
    const { items, nextCursor } = await keysetPage<BookingRow>(q, filter);
    return { items: items.map(toBooking), nextCursor };
  }
}
