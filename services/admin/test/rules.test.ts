import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@guitaronline/contracts';
import { foldChanges, kpiChangesOf, supersedes } from '../src/domain/kpi-rules';
import { orderTrace } from '../src/domain/trace-order';
import { envelope } from './helpers';

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 12, 0, s));
const statusAfter = (events: unknown[]) => foldChanges(events.flatMap((e) => kpiChangesOf(e as DomainEvent))).map((c) => ('status' in c ? c.status : c.role));

describe('KPI state rule', () => {
  test('when a payment goes failed → pending → succeeded → refunded, then every delivery order and repetition ends as refunded', () => {
    const paymentId = randomUUID();
    const p = (type: 'billing.payment.created' | 'billing.payment.status_changed', from: any, to: any, s: number) =>
      envelope(type, { paymentId, packageId: randomUUID(), studentId: randomUUID(), amountCents: 100, currency: 'EUR', from, to }, { at: at(s) });
    const events = [p('billing.payment.created', null, 'pending', 0), p('billing.payment.status_changed', 'pending', 'failed', 1), p('billing.payment.status_changed', 'failed', 'pending', 2), p('billing.payment.status_changed', 'pending', 'succeeded', 3), p('billing.payment.status_changed', 'succeeded', 'refunded', 4)];
    for (const order of permutations(events)) expect(statusAfter([...order, order[0]])).toEqual(['refunded']);
    // without the refund, the latest state wins: succeeded, even though failed came later in delivery
    for (const order of permutations(events.slice(0, 4))) expect(statusAfter(order)).toEqual(['succeeded']);
  });

  test('when a terminal state carries an earlier time than a live one, then the terminal state still wins', () => {
    const bookingId = randomUUID();
    const slot = { slotId: randomUUID(), teacherId: randomUUID(), startAt: at(0).toISOString(), endAt: at(1).toISOString() };
    const canceled = envelope('booking.canceled', { bookingId, wasConfirmed: true, refundable: true, canceledBy: 'admin' }, { at: at(5) });
    const confirmedLater = envelope('booking.confirmed', { bookingId, ...slot, studentId: randomUUID(), packageId: randomUUID() }, { at: at(9) });
    for (const order of permutations([canceled, confirmedLater])) expect(statusAfter(order)).toEqual(['canceled']);
  });

  test('when two states share a millisecond, then the further lifecycle state wins', () => {
    const bookingId = randomUUID();
    const slot = { slotId: randomUUID(), teacherId: randomUUID(), startAt: at(0).toISOString(), endAt: at(1).toISOString() };
    const requested = envelope('booking.confirmation_requested', { bookingId, studentId: randomUUID(), teacherId: slot.teacherId, startAt: slot.startAt, endAt: slot.endAt }, { at: at(3) });
    const confirmed = envelope('booking.confirmed', { bookingId, ...slot, studentId: randomUUID(), packageId: randomUUID() }, { at: at(3) });
    for (const order of permutations([requested, confirmed])) expect(statusAfter(order)).toEqual(['confirmed']);
  });

  test('when keys are compared, then the order is terminal, then time, then rank, then event id', () => {
    const k = (terminal: boolean, s: number, rank: number, eventId = '00000000-0000-4000-8000-000000000000') => ({ terminal, occurredAt: at(s).toISOString(), rank, eventId });
    expect(supersedes(k(true, 1, 0), k(false, 9, 9))).toBe(true);
    expect(supersedes(k(false, 2, 0), k(false, 1, 9))).toBe(true);
    expect(supersedes(k(false, 1, 2), k(false, 1, 1))).toBe(true);
    expect(supersedes(k(false, 1, 1, 'f0000000-0000-4000-8000-000000000000'), k(false, 1, 1, '10000000-0000-4000-8000-000000000000'))).toBe(true);
    expect(supersedes(k(false, 1, 1), k(false, 1, 1))).toBe(false);
  });

  test('when a booking is rescheduled, then the old one is canceled and the new one confirming, linked both ways', () => {
    const [from, to] = [randomUUID(), randomUUID()];
    const changes = kpiChangesOf(envelope('booking.rescheduled', { fromBookingId: from, toBookingId: to }) as DomainEvent);
    expect(changes).toEqual([
      expect.objectContaining({ entity: 'booking', id: from, status: 'canceled', rescheduledToId: to }),
      expect.objectContaining({ entity: 'booking', id: to, status: 'confirming', rescheduledFromId: from }),
    ]);
  });
});

describe('trace order', () => {
  test('when an effect is stamped before its cause, then it still comes after it; otherwise events are in time order', () => {
    const n = (id: string, causationId: string | null, ms: number) => ({ id, causationId, occurredAt: new Date(1_000 + ms).toISOString() });
    const events = [n('e', 'c', 10), n('d', 'c', 3), n('c', 'b', 5), n('b', 'a', 5), n('a', null, 0), n('x', null, 4), n('y', 'outside', 1)];
    for (const order of permutations(events).slice(0, 200)) expect(orderTrace(order).map((e) => e.id)).toEqual(['a', 'y', 'x', 'b', 'c', 'd', 'e']);
  });
});
