import { randomUUID } from 'node:crypto';
import type { Page } from '@guitaronline/platform';
import type { Actor, SlotJson, SlotStatus } from './booking';
import { slotJson } from './booking';
import { bookingErrors } from './booking-errors';
import { slotPayload } from './booking-events';
import { slotTimeProblems } from './booking-rules';
import { recordRunOutHolds } from './booking-steps';
import type { BookingDeps } from './deps';

/** A teacher publishes a slot; the exclusion constraint refuses an overlap with their other slots. */
export async function publishSlot(deps: BookingDeps, teacher: Actor, input: { startAt: Date; endAt: Date }): Promise<SlotJson> {
  const now = deps.clock();
  const problems = slotTimeProblems(input.startAt, input.endAt, now);
  if (problems.length > 0) throw bookingErrors.fieldErrors(problems.map((p) => ({ path: `body.${p.path}`, message: p.message })));
  const slot = await deps.store.transaction(async (tx) => {
    const created = await tx.slots.insert({ id: randomUUID(), teacherId: teacher.userId, startAt: input.startAt, endAt: input.endAt, createdAt: now, updatedAt: now });
    await tx.record('booking.slot.created', slotPayload(created), created.id);
    return created;
  });
  const view = await deps.store.read.slots.findView(slot.id, now);
  return slotJson(view ?? { ...slot, status: 'open', teacherDisplayName: null });
}

/**
 * The owning teacher withdraws a slot. A live booking on it → 409 slot_has_booking. Deleting
 * an already deleted slot changes nothing (204 again, no second event).
 */
export async function withdrawSlot(deps: BookingDeps, teacher: Actor, slotId: string): Promise<void> {
  const now = deps.clock();
  await deps.store.transaction(async (tx) => {
    // for update: a concurrent hold (share lock) either lands first and is seen below, or sees the deletion
    const slot = await tx.slots.findForUpdate(slotId);
    if (!slot) throw bookingErrors.slotNotFound();
    // slots are public, so hiding one behind a 404 protects nothing
    if (slot.teacherId !== teacher.userId) throw bookingErrors.notYourSlot();
    if (slot.deletedAt) return;
    const live = await tx.bookings.findLiveOnSlot(slotId);
    if (live && !(live.status === 'hold' && live.holdExpiresAt.getTime() <= now.getTime())) throw bookingErrors.slotHasBooking();
    if (live) {
      // a run-out hold does not keep the slot; expire it on the way
      await recordRunOutHolds(deps, tx, await tx.bookings.expireRunOutHoldsOnSlot(slotId, now));
    }
    await tx.slots.markDeleted(slotId, now);
    await tx.record('booking.slot.deleted', slotPayload(slot), slot.id);
  });
}

export interface SlotQuery {
  teacherId?: string;
  from?: Date;
  to?: Date;
  status?: SlotStatus;
  sort: 'createdAt' | 'startAt';
  limit: number;
  cursor?: string;
}

/** Any user lists live slots with their derived status; newest first unless sorted by start. */
export async function listSlots(deps: BookingDeps, query: SlotQuery): Promise<Page<SlotJson>> {
  const { items, nextCursor } = await deps.store.read.slots.list({ ...query, now: deps.clock() });
  return { items: items.map(slotJson), nextCursor };
}
