import type { Knex } from 'knex';
import { newEnvelopes, recordEvent, type InboxClaim } from '@guitaronline/messaging';
import { afterCommit } from '@guitaronline/platform';
import type { DomainEvent, EventPayload, EventType } from '@guitaronline/contracts';
import type { Booking, Clock, Slot } from '../domain/booking';
import { BookingRepository, type ConfirmChange } from './booking-repository';
import { IdempotencyRepository } from './idempotency-repository';
import { SlotRepository } from './slot-repository';
import { TeacherProfileRepository } from './teacher-profile-repository';

/** One unit of work: repositories bound to one transaction, its outbox and its commit hook. */
export interface Tx {
  slots: SlotRepository;
  bookings: BookingRepository;
  idempotency: IdempotencyRepository;
  teachers: TeacherProfileRepository;
  /** Writes an event to the outbox in this transaction (it commits or rolls back with the change). */
  record<T extends EventType>(type: T, payload: EventPayload<T>, aggregateId: string, options?: { correlationId?: string | null }): Promise<void>;
  /** An event as `record` would write it, for a repository to write in the statement of its change. */
  envelope<T extends EventType>(type: T, payload: EventPayload<T>, aggregateId: string): DomainEvent<T>;
  /** Serialises this transaction with every other one of the same student (hold limits, idempotency keys). */
  lockStudent(studentId: string): Promise<void>;
  /**
   * `lockStudent`, and the slot read with a share lock (`slots.findForShare`), in one round trip
   * when the slot exists. Statements after it see what the student's earlier transactions committed.
   */
  lockStudentAndFindSlot(studentId: string, slotId: string): Promise<Slot | undefined>;
  /** Runs after a successful commit (never on rollback). */
  afterCommit(fn: () => void): void;
}

/** Read-only access outside a transaction. */
export interface Reader {
  slots: SlotRepository;
  bookings: BookingRepository;
}

export class Store {
  readonly read: Reader;

  constructor(
    readonly knex: Knex,
    private readonly clock: Clock,
  ) {
    this.read = { slots: new SlotRepository(knex), bookings: new BookingRepository(knex) };
  }

  /**
   * hold → confirming as one autocommit statement with its `booking.confirmation_requested`
   * (built from `payload`, its stand-ins filled in from the booking): the usual confirm in one
   * round trip. Undefined when the booking is not the student's live hold (nothing written).
   */
  confirmLiveHold(
    bookingId: string,
    studentId: string,
    now: Date,
    change: ConfirmChange,
    payload: EventPayload<'booking.confirmation_requested'>,
  ): Promise<Booking | undefined> {
    const event = envelopeOf('booking.confirmation_requested', payload, bookingId, now);
    return new BookingRepository(this.knex).confirmLiveHoldWithEvent(bookingId, studentId, now, change, event);
  }

  /**
   * confirming → confirmed (`patch`), as one autocommit statement with its `booking.confirmed`
   * (built from `payload`, its stand-ins filled in from the booking) and the debit message's
   * inbox row: the consumer's fast path for the usual debit. Undefined when the booking is not
   * confirming (nothing written); fails whole when the inbox row is there already.
   */
  confirmDebited(bookingId: string, patch: Partial<Booking>, payload: EventPayload<'booking.confirmed'>, inbox: InboxClaim, now: Date): Promise<Booking | undefined> {
    const event = envelopeOf('booking.confirmed', payload, bookingId, now);
    return new BookingRepository(this.knex).transitionWithEvent(bookingId, ['confirming'], patch, event, { inbox });
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.knex.transaction((trx) => fn(this.bind(trx)));
  }

  /** A unit of work over a transaction someone else opened (the inbox consumer's). */
  bind(trx: Knex.Transaction): Tx {
    const clock = this.clock;
    const slots = new SlotRepository(trx);
    const lockStudent = async (studentId: string) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [studentLockKey(studentId)]);
    };
    return {
      slots,
      bookings: new BookingRepository(trx),
      idempotency: new IdempotencyRepository(trx),
      teachers: new TeacherProfileRepository(trx),
      async record(type, payload, aggregateId, options = {}) {
        await recordEvent(trx, { type, payload, aggregateId, occurredAt: clock(), correlationId: options.correlationId ?? undefined });
      },
      envelope(type, payload, aggregateId) {
        return envelopeOf(type, payload, aggregateId, clock());
      },
      lockStudent,
      async lockStudentAndFindSlot(studentId, slotId) {
        const slot = await slots.findForShareTakingLock(slotId, studentLockKey(studentId));
        if (!slot) await lockStudent(studentId); // no row, no lock taken: on its own
        return slot;
      },
      afterCommit(fn) {
        afterCommit(trx, fn);
      },
    };
  }
}

/** The advisory lock that serialises a student's transactions. */
function studentLockKey(studentId: string): string {
  return `booking:student:${studentId}`;
}

/** An event's envelope as the outbox records it (validated), for a statement that writes it with its change. */
function envelopeOf<T extends EventType>(type: T, payload: EventPayload<T>, aggregateId: string, occurredAt: Date): DomainEvent<T> {
  return newEnvelopes([{ type, payload, aggregateId, occurredAt }])[0] as DomainEvent<T>;
}
