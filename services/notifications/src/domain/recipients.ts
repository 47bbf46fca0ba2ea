import type { DomainEvent, EventType } from '@guitaronline/contracts';

/** Events about a booking or a lesson: both of its people hear about them. */
const bookingAndLessonTypes: ReadonlySet<EventType> = new Set<EventType>([
  'booking.held',
  'booking.confirmed',
  'booking.rejected',
  'booking.canceled',
  'booking.expired',
  'booking.rescheduled',
  'lesson.created',
  'lesson.canceled',
  'lesson.completed',
]);

/** Events about a student's money: only the student hears about them. */
const studentTypes: ReadonlySet<EventType> = new Set<EventType>([
  'billing.lesson.credited',
  'billing.package.created',
  'billing.package.expired',
  'billing.package.depleted',
  'billing.payment.created',
  'billing.payment.status_changed',
]);

/** Event types that make user notifications (EVENTS.md: consumers = notifications). */
export const notifiableTypes: readonly EventType[] = [...bookingAndLessonTypes, ...studentTypes];

export function isNotifiable(type: EventType): boolean {
  return bookingAndLessonTypes.has(type) || studentTypes.has(type);
}

/**
 * The users an event notifies. Some payloads carry only one of the two people (e.g. an
 * older booking.expired without teacherId): whoever is named is notified, nobody is guessed.
 */
export function recipientsOf(event: DomainEvent): string[] {
  const payload = event.payload as Record<string, unknown>;
  const ids: unknown[] = [];
  if (bookingAndLessonTypes.has(event.type)) ids.push(payload.studentId, payload.teacherId);
  else if (studentTypes.has(event.type)) ids.push(payload.studentId);
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && id.length > 0))];
}
