import type { Knex } from 'knex';
import type { Slot, SlotStatus, SlotView } from '../domain/booking';
import { keysetPage, type Page } from '@guitaronline/platform';
import { bookingErrors } from '../domain/booking-errors';
import { isExclusionViolation } from './db-errors';

interface SlotRow {
  id: string;
  teacher_id: string;
  start_at: Date;
  end_at: Date;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

function toSlot(row: SlotRow): Slot {
  return {
    id: row.id,
    teacherId: row.teacher_id,
    startAt: row.start_at,
    endAt: row.end_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

/** The derived status in SQL; the same rule as `slotStatusOf` (a run-out hold no longer holds the slot). */
const STATUS_SQL = `case
  when b.status = 'confirmed' then 'booked'
  when b.status = 'confirming' then 'held'
  when b.status = 'hold' and b.hold_expires_at > ? then 'held'
  else 'open' end`;

export interface SlotListFilter {
  teacherId?: string;
  from?: Date;
  to?: Date;
  status?: SlotStatus;
  sort: 'createdAt' | 'startAt';
  cursor?: string;
  limit: number;
  now: Date;
}

export class SlotRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  /** Inserts a slot; an overlap with another live slot of the teacher is refused by the exclusion constraint. */
  async insert(slot: Omit<Slot, 'deletedAt'>): Promise<Slot> {
    try {
      const [row] = await this.db<SlotRow>('slots')
        .insert({
          id: slot.id,
          teacher_id: slot.teacherId,
          start_at: slot.startAt,
          end_at: slot.endAt,
          created_at: slot.createdAt,
          updated_at: slot.updatedAt,
        })
        .returning('*');
      return toSlot(row as SlotRow);
    } catch (err) {
      if (isExclusionViolation(err, 'slots_no_overlap')) throw bookingErrors.slotOverlap();
      throw err;
    }
  }

  async findById(id: string): Promise<Slot | undefined> {
    const row = await this.db<SlotRow>('slots').where({ id }).first();
    return row ? toSlot(row) : undefined;
  }

  /**
   * Reads a slot with a share lock: a hold and a concurrent delete of the same slot serialise
   * (the delete takes the row for update), so a hold never lands on a slot being deleted.
   */
  async findForShare(id: string): Promise<Slot | undefined> {
    const row = await this.db<SlotRow>('slots').where({ id }).forShare().first();
    return row ? toSlot(row) : undefined;
  }

  /**
   * `findForShare` that also takes the transaction-scoped advisory lock `lockKey` when the slot
   * exists, in the same statement (one round trip instead of two): the lock is taken as the
   * row is read, before its share lock, and a row lock reads the newest version of the row, so
   * the slot needs no snapshot taken after the advisory lock. No row, no lock: the caller takes
   * it on its own.
   */
  async findForShareTakingLock(id: string, lockKey: string): Promise<Slot | undefined> {
    const row = await this.db<SlotRow>('slots')
      .select('slots.*', this.db.raw('pg_advisory_xact_lock(hashtextextended(?, 0)) is null as serialized', [lockKey]))
      .where({ id })
      .forShare()
      .first();
    return row ? toSlot(row) : undefined;
  }

  async findForUpdate(id: string): Promise<Slot | undefined> {
    const row = await this.db<SlotRow>('slots').where({ id }).forUpdate().first();
    return row ? toSlot(row) : undefined;
  }

  async markDeleted(id: string, now: Date): Promise<void> {
    await this.db('slots').where({ id }).whereNull('deleted_at').update({ deleted_at: now, updated_at: now });
  }

  async findView(id: string, now: Date): Promise<SlotView | undefined> {
    const { items } = await this.list({ now, sort: 'createdAt', limit: 1, onlyId: id });
    return items[0];
  }

  /** Live (not deleted) slots with their derived status; keyset pagination on (sort key, id): newest first, or earliest start first. */
  async list(filter: Omit<SlotListFilter, 'cursor' | 'teacherId' | 'from' | 'to' | 'status'> & Partial<SlotListFilter> & { onlyId?: string }): Promise<Page<SlotView>> {
    const { db } = this;
    const q = db('slots as s')
      .leftJoin('bookings as b', function () {
        this.on('b.slot_id', '=', 's.id').andOn(db.raw(`b.status in ('hold', 'confirming', 'confirmed')`));
      })
      .leftJoin('teacher_profiles as t', 't.teacher_id', 's.teacher_id')
      .whereNull('s.deleted_at')
      .select('s.*', 't.display_name as teacher_display_name', db.raw(`${STATUS_SQL} as status`, [filter.now]));
    if (filter.onlyId) q.where('s.id', filter.onlyId);
    if (filter.teacherId) q.where('s.teacher_id', filter.teacherId);
    // a slot is in the window when it starts inside [from, to)
    if (filter.from) q.where('s.start_at', '>=', filter.from);
    if (filter.to) q.where('s.start_at', '<', filter.to);
    if (filter.status) q.whereRaw(`${STATUS_SQL} = ?`, [filter.now, filter.status]);
    const order = filter.sort === 'startAt' ? ({ at: 's.start_at', id: 's.id', direction: 'asc' } as const) : { at: 's.created_at', id: 's.id' };
    const { items, nextCursor } = await keysetPage<SlotRow & { status: SlotStatus; teacher_display_name: string | null }>(q, filter, order);
    return { items: items.map((r) => ({ ...toSlot(r), status: r.status, teacherDisplayName: r.teacher_display_name })), nextCursor };
  }
}
