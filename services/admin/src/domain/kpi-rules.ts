import type { DomainEvent } from '@guitaronline/contracts';

/**
 * The KPI read model keeps one current state per entity (user, booking, lesson, payment,
 * package), derived from events. Delivery is at least once and unordered, so applying an
 * event must be idempotent and order-independent. The rule:
 *
 *   every state an event implies carries a key (terminal, occurredAt, rank, eventId);
 *   an entity keeps the state with the GREATEST key (compared in that order).
 *
 * - terminal first: once an entity reached a terminal state (booking rejected/canceled/expired,
 *   lesson canceled/completed, payment refunded, package expired/canceled) no non-terminal
 *   event can move it back, whichever arrives last;
 * - then the latest occurredAt (the producer's clock; one entity's events all come from one
 *   producer, so they are ordered by it) — this lets a payment go failed → pending → succeeded
 *   and a package depleted → active after a credit;
 * - then the lifecycle rank, for two events in the same millisecond (confirming before confirmed);
 * - then the event id, so that even a full tie has one winner.
 *
 * "Keep the maximum" is commutative and idempotent: duplicates and any delivery order give the
 * same end state, and replaying the event log (KPI rebuild) gives the same numbers.
 */
export interface StateKey {
  terminal: boolean;
  occurredAt: string;
  rank: number;
  eventId: string;
}

export const bookingStatuses = ['hold', 'confirming', 'confirmed', 'rejected', 'canceled', 'expired'] as const;
export const lessonStatuses = ['scheduled', 'canceled', 'completed'] as const;
export const paymentStatuses = ['pending', 'succeeded', 'failed', 'refunded'] as const;
export const packageStatuses = ['active', 'depleted', 'expired', 'canceled'] as const;
export const userRoles = ['student', 'teacher', 'admin'] as const;

export type BookingStatus = (typeof bookingStatuses)[number];
export type LessonStatus = (typeof lessonStatuses)[number];
export type PaymentStatus = (typeof paymentStatuses)[number];
export type PackageStatus = (typeof packageStatuses)[number];
export type UserRole = (typeof userRoles)[number];

const bookingLifecycle: Record<BookingStatus, { rank: number; terminal: boolean }> = {
  hold: { rank: 0, terminal: false },
  confirming: { rank: 1, terminal: false },
  confirmed: { rank: 2, terminal: false },
  expired: { rank: 3, terminal: true },
  rejected: { rank: 3, terminal: true },
  canceled: { rank: 4, terminal: true },
};
const lessonLifecycle: Record<LessonStatus, { rank: number; terminal: boolean }> = {
  scheduled: { rank: 0, terminal: false },
  canceled: { rank: 1, terminal: true },
  completed: { rank: 2, terminal: true },
};
const paymentLifecycle: Record<PaymentStatus, { rank: number; terminal: boolean }> = {
  pending: { rank: 0, terminal: false },
  failed: { rank: 1, terminal: false },
  succeeded: { rank: 2, terminal: false },
  refunded: { rank: 3, terminal: true },
};
const packageLifecycle: Record<PackageStatus, { rank: number; terminal: boolean }> = {
  active: { rank: 0, terminal: false },
  depleted: { rank: 1, terminal: false },
  expired: { rank: 2, terminal: true },
  canceled: { rank: 3, terminal: true },
};

export type KpiChange =
  | { entity: 'user'; id: string; role: UserRole; key: StateKey }
  | {
      entity: 'booking';
      id: string;
      status: BookingStatus;
      key: StateKey;
      rescheduledFromId?: string;
      rescheduledToId?: string;
    }
  | { entity: 'lesson'; id: string; bookingId: string; status: LessonStatus; key: StateKey }
  | {
      entity: 'payment';
      id: string;
      packageId: string;
      status: PaymentStatus;
      amountCents: number;
      currency: string;
      key: StateKey;
    }
  | { entity: 'package'; id: string; status: PackageStatus; lessonsLeft: number; key: StateKey };

function keyOf(event: DomainEvent, lifecycle: { rank: number; terminal: boolean }): StateKey {
  return { terminal: lifecycle.terminal, occurredAt: event.occurredAt, rank: lifecycle.rank, eventId: event.id };
}

const booking = (event: DomainEvent, id: string, status: BookingStatus, links: { rescheduledFromId?: string; rescheduledToId?: string } = {}): KpiChange => ({
  entity: 'booking',
  id,
  status,
  key: keyOf(event, bookingLifecycle[status]),
  ...links,
});

const lesson = (event: DomainEvent<'lesson.created' | 'lesson.canceled' | 'lesson.completed'>, status: LessonStatus): KpiChange => ({
  entity: 'lesson',
  id: event.payload.lessonId,
  bookingId: event.payload.bookingId,
  status,
  key: keyOf(event, lessonLifecycle[status]),
});

const packageState = (event: DomainEvent, id: string, status: PackageStatus, lessonsLeft: number): KpiChange => ({
  entity: 'package',
  id,
  status,
  lessonsLeft,
  key: keyOf(event, packageLifecycle[status]),
});

/** The entity states an event implies (none for events that do not touch the KPIs). */
export function kpiChangesOf(event: DomainEvent): KpiChange[] {
  switch (event.type) {
    case 'identity.user.registered':
      return [{ entity: 'user', id: event.payload.userId, role: event.payload.role, key: { terminal: false, occurredAt: event.occurredAt, rank: 0, eventId: event.id } }];
    case 'booking.held':
      return [booking(event, event.payload.bookingId, 'hold')];
    case 'booking.confirmation_requested':
      return [booking(event, event.payload.bookingId, 'confirming')];
    case 'booking.confirmed':
      return [booking(event, event.payload.bookingId, 'confirmed')];
    case 'booking.rejected':
      return [booking(event, event.payload.bookingId, 'rejected')];
    case 'booking.canceled':
      return [booking(event, event.payload.bookingId, 'canceled')];
    case 'booking.expired':
      return [booking(event, event.payload.bookingId, 'expired')];
    case 'booking.rescheduled':
      // reschedule = cancel of the old booking + a new booking in confirming (API.md), linked both ways
      return [
        booking(event, event.payload.fromBookingId, 'canceled', { rescheduledToId: event.payload.toBookingId }),
        booking(event, event.payload.toBookingId, 'confirming', { rescheduledFromId: event.payload.fromBookingId }),
      ];
    case 'lesson.created':
      return [lesson(event, 'scheduled')];
    case 'lesson.canceled':
      return [lesson(event, 'canceled')];
    case 'lesson.completed':
      return [lesson(event, 'completed')];
    case 'billing.payment.created':
    case 'billing.payment.status_changed': {
      const status: PaymentStatus = event.type === 'billing.payment.created' ? 'pending' : event.payload.to;
      return [
        {
          entity: 'payment',
          id: event.payload.paymentId,
          packageId: event.payload.packageId,
          status,
          amountCents: event.payload.amountCents,
          currency: event.payload.currency,
          key: keyOf(event, paymentLifecycle[status]),
        },
      ];
    }
    case 'billing.package.created':
      return [packageState(event, event.payload.packageId, 'active', event.payload.lessonsLeft)];
    case 'billing.package.depleted':
      return [packageState(event, event.payload.packageId, 'depleted', event.payload.lessonsLeft)];
    case 'billing.package.expired':
      return [packageState(event, event.payload.packageId, 'expired', event.payload.lessonsLeft)];
    case 'billing.lesson.debited':
    case 'billing.lesson.credited':
      // the balance after the debit/credit decides: a credit re-activates a depleted package
      return [packageState(event, event.payload.packageId, event.payload.lessonsLeft > 0 ? 'active' : 'depleted', event.payload.lessonsLeft)];
    default:
      return [];
  }
}

/** The comparison the database applies (row comparison of the key): true when `a` wins over `b`. */
export function supersedes(a: StateKey, b: StateKey): boolean {
  if (a.terminal !== b.terminal) return a.terminal;
  const ta = Date.parse(a.occurredAt);
  const tb = Date.parse(b.occurredAt);
  if (ta !== tb) return ta > tb;
  if (a.rank !== b.rank) return a.rank > b.rank;
  return a.eventId.toLowerCase() > b.eventId.toLowerCase();
}

/**
 * Folds changes to one change per entity: the one with the greatest key (the database's rule,
 * see supersedes), carrying every link any of them brought. One statement then never touches
 * a row twice.
 */
export function foldChanges(changes: readonly KpiChange[]): KpiChange[] {
  const byEntity = new Map<string, KpiChange>();
  for (const change of changes) {
    const k = `${change.entity}:${change.id}`;
    const seen = byEntity.get(k);
    if (!seen) {
      byEntity.set(k, change);
      continue;
    }
    const winner = supersedes(change.key, seen.key) ? change : seen;
    if (winner.entity === 'booking' && seen.entity === 'booking' && change.entity === 'booking') {
      byEntity.set(k, {
        ...winner,
        rescheduledFromId: winner.rescheduledFromId ?? seen.rescheduledFromId ?? change.rescheduledFromId,
        rescheduledToId: winner.rescheduledToId ?? seen.rescheduledToId ?? change.rescheduledToId,
      });
    } else {
      byEntity.set(k, winner);
    }
  }
  return [...byEntity.values()];
}
