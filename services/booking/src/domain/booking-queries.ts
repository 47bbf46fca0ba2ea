import type { Page } from '@guitaronline/platform';
import type { Actor, BookingJson, BookingStatus } from './booking';
import { bookingJson } from './booking';
import { bookingErrors } from './booking-errors';
import { canSeeBooking, confirmDeadline } from './booking-rules';
import type { BookingDeps } from './deps';

/** Its student, its teacher or an admin sees a booking; for anyone else it does not exist. */
export async function viewBooking(deps: BookingDeps, actor: Actor, bookingId: string): Promise<BookingJson> {
  const booking = await deps.store.read.bookings.findById(bookingId);
  if (!booking || !canSeeBooking(actor, booking)) throw bookingErrors.bookingNotFound();
  return bookingJson(booking);
}

/** A student's own bookings, or a teacher's bookings on their slots; newest first. */
export async function listMyBookings(deps: BookingDeps, actor: Actor, query: { status?: BookingStatus; limit: number; cursor?: string }): Promise<Page<BookingJson>> {
  const owner = actor.role === 'teacher' ? { teacherId: actor.userId } : { studentId: actor.userId };
  const { items, nextCursor } = await deps.store.read.bookings.list({ ...owner, status: query.status, limit: query.limit, cursor: query.cursor });
  return { items: items.map(bookingJson), nextCursor };
}

/** Figures for the admin operations overview: holds past their expiry not yet swept, and sagas stuck in confirming. */
export async function bookingHealth(deps: BookingDeps): Promise<{ staleHolds: number; stuckConfirming: number }> {
  const now = deps.clock();
  const [staleHolds, stuckConfirming] = await Promise.all([
    deps.store.read.bookings.countRunOutHolds(now),
    deps.store.read.bookings.countStuckConfirming(confirmDeadline(now, deps.settings.confirmTimeoutSeconds)),
  ]);
  return { staleHolds, stuckConfirming };
}
