import { z } from './zod';
import { cents, currency, isoDateTime, role, uuid } from './primitives';
import type { ServiceName } from './envelope';
import { eventEnvelopeSchema, type EventEnvelope } from './envelope';

const slot = { slotId: uuid, teacherId: uuid, startAt: isoDateTime, endAt: isoDateTime };
const packagePayload = z.object({
  packageId: uuid,
  studentId: uuid,
  lessonsTotal: z.number().int().positive(),
  lessonsLeft: z.number().int().nonnegative(),
  expiresAt: isoDateTime,
  priceCents: cents.optional(),
  currency: currency.optional(),
});
const paymentPayload = z.object({
  paymentId: uuid,
  packageId: uuid,
  studentId: uuid,
  amountCents: cents,
  currency,
  from: z.enum(['pending', 'succeeded', 'failed', 'refunded']).nullable(),
  to: z.enum(['pending', 'succeeded', 'failed', 'refunded']),
});
const lessonPayload = z.object({
  lessonId: uuid,
  bookingId: uuid,
  studentId: uuid,
  teacherId: uuid,
  startAt: isoDateTime,
  endAt: isoDateTime.optional(),
});
const notificationPayload = z.object({
  notificationId: uuid,
  userId: uuid,
  channel: z.enum(['email', 'webhook']),
  attempts: z.number().int().nonnegative(),
});
export const debitRejectReason = z.enum(['no_active_package', 'package_expired', 'insufficient_lessons']);
export const canceledByRole = role;

/**
 * The event catalogue of EVENTS.md: type → producer, version and payload schema.
 * Producers validate before writing to the outbox; consumers validate on receipt.
 * Payload objects are not strict on purpose: a consumer ignores fields it does not know,
 * so a producer may add fields within a version. A breaking change is a new version.
 */
export const eventCatalogue = {
  'identity.user.registered': {
    producer: 'identity',
    version: 1,
    payload: z.object({ userId: uuid, email: z.email(), role, fullName: z.string().min(1).max(200) }),
  },
  'identity.teacher.profile_updated': {
    producer: 'identity',
    version: 1,
    payload: z.object({
      teacherId: uuid,
      displayName: z.string().min(1).max(200),
      timezone: z.string().min(1).max(64),
      bio: z.string().max(2000).optional(),
      instruments: z.array(z.string().max(50)).max(20).optional(),
    }),
  },
  'booking.slot.created': { producer: 'booking', version: 1, payload: z.object(slot) },
  'booking.slot.deleted': { producer: 'booking', version: 1, payload: z.object(slot) },
  'booking.held': {
    producer: 'booking',
    version: 1,
    payload: z.object({ bookingId: uuid, ...slot, studentId: uuid, holdExpiresAt: isoDateTime }),
  },
  'booking.confirmation_requested': {
    producer: 'booking',
    version: 1,
    payload: z.object({
      bookingId: uuid,
      studentId: uuid,
      teacherId: uuid,
      packageId: uuid.nullable().optional(),
      startAt: isoDateTime,
      endAt: isoDateTime,
      attempt: z.number().int().positive().optional(),
      /**
       * A reschedule's successor: the booking it replaces and whether that cancel gives its
       * lesson back, so billing can move the lesson over whichever event it sees first.
       */
      rescheduledFrom: z.object({ bookingId: uuid, refundable: z.boolean() }).optional(),
    }),
  },
  'billing.lesson.debited': {
    producer: 'billing',
    version: 1,
    payload: z.object({ bookingId: uuid, packageId: uuid, studentId: uuid.optional(), lessonsLeft: z.number().int().nonnegative() }),
  },
  'billing.lesson.debit_rejected': {
    producer: 'billing',
    version: 1,
    payload: z.object({ bookingId: uuid, studentId: uuid.optional(), reason: debitRejectReason }),
  },
  'booking.confirmed': {
    producer: 'booking',
    version: 1,
    payload: z.object({ bookingId: uuid, ...slot, studentId: uuid, packageId: uuid }),
  },
  'booking.rejected': {
    producer: 'booking',
    version: 1,
    payload: z.object({
      bookingId: uuid,
      reason: z.string().min(1).max(100),
      slotId: uuid.optional(),
      studentId: uuid.optional(),
      teacherId: uuid.optional(),
      startAt: isoDateTime.optional(),
    }),
  },
  'booking.canceled': {
    producer: 'booking',
    version: 1,
    payload: z.object({
      bookingId: uuid,
      packageId: uuid.nullable().optional(),
      wasConfirmed: z.boolean(),
      refundable: z.boolean(),
      canceledBy: canceledByRole,
      canceledById: uuid.optional(),
      reason: z.string().max(500).nullable().optional(),
      slotId: uuid.optional(),
      studentId: uuid.optional(),
      teacherId: uuid.optional(),
      startAt: isoDateTime.optional(),
    }),
  },
  'booking.expired': {
    producer: 'booking',
    version: 1,
    payload: z.object({ bookingId: uuid, slotId: uuid, studentId: uuid.optional(), teacherId: uuid.optional() }),
  },
  'booking.rescheduled': {
    producer: 'booking',
    version: 1,
    payload: z.object({ fromBookingId: uuid, toBookingId: uuid, studentId: uuid.optional(), teacherId: uuid.optional() }),
  },
  'billing.lesson.credited': {
    producer: 'billing',
    version: 1,
    payload: z.object({ bookingId: uuid, packageId: uuid, studentId: uuid.optional(), lessonsLeft: z.number().int().nonnegative() }),
  },
  'billing.package.created': { producer: 'billing', version: 1, payload: packagePayload },
  'billing.package.expired': { producer: 'billing', version: 1, payload: packagePayload },
  'billing.package.depleted': { producer: 'billing', version: 1, payload: packagePayload },
  'billing.payment.created': { producer: 'billing', version: 1, payload: paymentPayload },
  'billing.payment.status_changed': { producer: 'billing', version: 1, payload: paymentPayload },
  'lesson.created': { producer: 'lessons', version: 1, payload: lessonPayload },
  'lesson.canceled': { producer: 'lessons', version: 1, payload: lessonPayload },
  'lesson.completed': { producer: 'lessons', version: 1, payload: lessonPayload },
  'notification.sent': { producer: 'notifications', version: 1, payload: notificationPayload },
  'notification.failed': { producer: 'notifications', version: 1, payload: notificationPayload },
} as const satisfies Record<string, { producer: ServiceName; version: number; payload: z.ZodType }>;

export type EventCatalogue = typeof eventCatalogue;
export type EventType = keyof EventCatalogue;
export type EventPayload<T extends EventType> = z.infer<EventCatalogue[T]['payload']>;
export type DomainEvent<T extends EventType = EventType> = { [K in T]: EventEnvelope<K, EventPayload<K>> }[T];
export const eventTypes = Object.keys(eventCatalogue) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(eventCatalogue, type);
}

/** Why a message cannot be processed at all: such a message is parked at once, never retried. */
export class EventSchemaError extends Error {
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'EventSchemaError';
  }
}

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** Validates a received message (envelope, known type, known version, payload). */
export function parseEvent(raw: unknown): DomainEvent {
  const envelope = eventEnvelopeSchema.safeParse(raw);
  if (!envelope.success) throw new EventSchemaError('invalid envelope', issuesOf(envelope.error));
  const { type, version } = envelope.data;
  if (!isEventType(type)) throw new EventSchemaError(`unknown event type ${type}`);
  const entry = eventCatalogue[type];
  if (version !== entry.version) throw new EventSchemaError(`unsupported version ${version} of ${type}`);
  const payload = entry.payload.safeParse(envelope.data.payload);
  if (!payload.success) throw new EventSchemaError(`invalid payload for ${type}`, issuesOf(payload.error));
  return { ...envelope.data, type, payload: payload.data } as DomainEvent;
}

/** Validates a payload a producer is about to record; throws EventSchemaError. */
export function validatePayload<T extends EventType>(type: T, payload: unknown): EventPayload<T> {
  const parsed = eventCatalogue[type].payload.safeParse(payload);
  if (!parsed.success) throw new EventSchemaError(`invalid payload for ${type}`, issuesOf(parsed.error));
  return parsed.data as EventPayload<T>;
}
