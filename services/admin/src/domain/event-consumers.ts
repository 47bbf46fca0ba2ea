import type { EventType, ServiceName } from '@guitaronline/contracts';

/**
 * Who consumes each event type, per the EVENTS.md catalogue. Admin is listed for every type:
 * besides the KPI read model it writes every event to its event log for traces. The
 * `Record<EventType, …>` type makes a new catalogue entry fail to compile until it is listed here.
 */
export const eventConsumers: Record<EventType, readonly ServiceName[]> = {
  'identity.user.registered': ['admin', 'notifications'],
  'identity.teacher.profile_updated': ['booking', 'admin'],
  'booking.slot.created': ['admin'],
  'booking.slot.deleted': ['admin'],
  'booking.held': ['notifications', 'admin'],
  'booking.confirmation_requested': ['billing', 'admin'],
  'billing.lesson.debited': ['booking', 'admin'],
  'billing.lesson.debit_rejected': ['booking', 'admin'],
  'booking.confirmed': ['lessons', 'notifications', 'admin'],
  'booking.rejected': ['notifications', 'admin'],
  'booking.canceled': ['billing', 'lessons', 'notifications', 'admin'],
  'booking.expired': ['notifications', 'admin'],
  'booking.rescheduled': ['notifications', 'admin'],
  'billing.lesson.credited': ['notifications', 'admin'],
  'billing.package.created': ['notifications', 'admin'],
  'billing.package.expired': ['notifications', 'admin'],
  'billing.package.depleted': ['notifications', 'admin'],
  'billing.payment.created': ['notifications', 'admin'],
  'billing.payment.status_changed': ['notifications', 'admin'],
  'lesson.created': ['notifications', 'admin'],
  'lesson.canceled': ['notifications', 'admin'],
  'lesson.completed': ['notifications', 'admin'],
  'notification.sent': ['admin'],
  'notification.failed': ['admin'],
};

export function consumersOf(type: string): ServiceName[] {
  return [...((eventConsumers as Record<string, readonly ServiceName[] | undefined>)[type] ?? [])];
}

/** Services that run an event consumer (and so own `<service>.events`, retry and dead-letter queues). */
export const consumingServices: readonly ServiceName[] = ['booking', 'billing', 'lessons', 'notifications', 'admin'];
