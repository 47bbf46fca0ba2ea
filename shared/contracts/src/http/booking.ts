import { z } from '../zod';
import { isoDateTime, role, uuid } from '../primitives';
import { pageOf, pageQuery } from './common';

/** Scheduling and booking (API.md). */

export const slotStatus = z.enum(['open', 'held', 'booked']);
export type SlotStatus = z.infer<typeof slotStatus>;
export const bookingStatus = z.enum(['hold', 'confirming', 'confirmed', 'rejected', 'canceled', 'expired']);
export type BookingStatus = z.infer<typeof bookingStatus>;

export const slotSchema = z
  .object({
    id: uuid,
    teacherId: uuid,
    startAt: isoDateTime,
    endAt: isoDateTime,
    status: slotStatus,
    /** From identity's teacher profile (booking keeps a copy); null until the teacher has one. */
    teacherDisplayName: z.string().nullable(),
  })
  .openapi('Slot');
export type SlotDto = z.infer<typeof slotSchema>;

export const bookingSchema = z
  .object({
    id: uuid,
    slotId: uuid,
    studentId: uuid,
    teacherId: uuid,
    packageId: uuid.nullable(),
    status: bookingStatus,
    startAt: isoDateTime,
    endAt: isoDateTime,
    holdExpiresAt: isoDateTime,
    refundable: z.boolean().nullable(),
    rejectReason: z.string().nullable(),
    cancelReason: z.string().nullable(),
    canceledBy: role.nullable(),
    rescheduledFromId: uuid.nullable(),
    rescheduledToId: uuid.nullable(),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
  .openapi('Booking');
export type BookingDto = z.infer<typeof bookingSchema>;

/** Future, end after start and at most 4 h are checked by the service (it owns the clock). */
export const createSlotBody = z.strictObject({ startAt: isoDateTime, endAt: isoDateTime }).openapi('CreateSlotRequest');
export const slotIdParams = z.object({ slotId: uuid });
export const slotsQuery = pageQuery
  .extend({
    teacherId: uuid.optional(),
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    status: slotStatus.optional(),
    /** `createdAt` (default): newest first; `startAt`: calendar order, earliest start first. */
    sort: z.enum(['createdAt', 'startAt']).default('createdAt'),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), { path: ['to'], message: 'must not be before from' });
export const slotPage = pageOf(slotSchema).openapi('SlotPage');

export const holdBody = z.strictObject({ slotId: uuid }).openapi('HoldRequest');
export const confirmBody = z.strictObject({ packageId: uuid.optional() }).openapi('ConfirmRequest');
export const cancelBody = z.strictObject({ reason: z.string().trim().max(500).nullable().optional() }).openapi('CancelRequest');
export const rescheduleBody = z.strictObject({ newSlotId: uuid, packageId: uuid.optional() }).openapi('RescheduleRequest');
export const bookingIdParams = z.object({ id: uuid });
export const myBookingsQuery = pageQuery.extend({ status: bookingStatus.optional() });
export const bookingPage = pageOf(bookingSchema).openapi('BookingPage');
export const expireHoldsResult = z.object({ expired: z.number().int().nonnegative() }).openapi('ExpireHoldsResult');

/** `Idempotency-Key` (POST /booking/hold): 1–255 visible ASCII characters. */
export const idempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, '1–255 visible ASCII characters');

/** GET /internal/ops (admin token): figures for the admin service's operations overview. */
export const bookingOpsSchema = z
  .object({
    outbox: z.object({ pending: z.number().int().nonnegative(), oldestPendingSeconds: z.number().nonnegative() }),
    staleHolds: z.number().int().nonnegative(),
    stuckConfirming: z.number().int().nonnegative(),
  })
  .openapi('BookingOps');
export type BookingOps = z.infer<typeof bookingOpsSchema>;
