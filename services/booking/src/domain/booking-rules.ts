import type { Actor, Booking, BookingStatus, Role, SlotStatus } from './booking';

/** Pure rules of scheduling and booking (DESIGN.md "Business rules"); every time rule takes `now`. */

export const MAX_SLOT_MS = 4 * 60 * 60 * 1000;

export type SlotTimeProblem = { path: 'startAt' | 'endAt'; message: string };

/** A new slot starts in the future, ends after it starts and lasts at most 4 hours. */
export function slotTimeProblems(startAt: Date, endAt: Date, now: Date): SlotTimeProblem[] {
  const problems: SlotTimeProblem[] = [];
  if (startAt.getTime() <= now.getTime()) problems.push({ path: 'startAt', message: 'must be in the future' });
  if (endAt.getTime() <= startAt.getTime()) problems.push({ path: 'endAt', message: 'must be after startAt' });
  else if (endAt.getTime() - startAt.getTime() > MAX_SLOT_MS) problems.push({ path: 'endAt', message: 'a slot lasts at most 4 hours' });
  return problems;
}

/**
 * A slot is `held` while its live booking is a hold that has not run out or is confirming,
 * `booked` while it is confirmed, `open` otherwise (a hold past its expiry no longer counts,
 * even before the sweep has marked it expired).
 */
export function slotStatusOf(live: { status: BookingStatus; holdExpiresAt: Date } | null | undefined, now: Date): SlotStatus {
  if (!live) return 'open';
  if (live.status === 'confirmed') return 'booked';
  if (live.status === 'confirming') return 'held';
  if (live.status === 'hold' && live.holdExpiresAt.getTime() > now.getTime()) return 'held';
  return 'open';
}

export function holdExpiry(now: Date, holdMinutes: number): Date {
  return new Date(now.getTime() + Math.round(holdMinutes * 60_000));
}

export function isHoldExpired(booking: Pick<Booking, 'status' | 'holdExpiresAt'>, now: Date): boolean {
  return booking.status === 'hold' && booking.holdExpiresAt.getTime() <= now.getTime();
}

/**
 * Whether a cancel gives the lesson back, decided once at the cancel:
 * a booking that never cost a lesson (a hold) → false;
 * canceled by the teacher or an admin → true;
 * by the student → true only more than `windowHours` before the start.
 */
export function decideRefundable(input: { wasConfirmed: boolean; canceledBy: Role; startAt: Date; now: Date; windowHours: number }): boolean {
  if (!input.wasConfirmed) return false;
  if (input.canceledBy !== 'student') return true;
  return input.startAt.getTime() - input.now.getTime() > input.windowHours * 3_600_000;
}

/** Who may see a booking: its student, the teacher of its slot, an admin. Everyone else gets a 404. */
export function canSeeBooking(actor: Actor, booking: Pick<Booking, 'studentId' | 'teacherId'>): boolean {
  if (actor.role === 'admin') return true;
  if (actor.role === 'student') return booking.studentId === actor.userId;
  return booking.teacherId === actor.userId;
}

export type WatchdogAction = 're_requested' | 'rejected';

/** A booking confirming for longer than the timeout is asked for again, up to `maxRequests` requests in all, then rejected. */
export function watchdogActionFor(attemptsSoFar: number, maxRequests: number): WatchdogAction {
  return attemptsSoFar < maxRequests ? 're_requested' : 'rejected';
}

export function confirmDeadline(now: Date, timeoutSeconds: number): Date {
  return new Date(now.getTime() - timeoutSeconds * 1000);
}
