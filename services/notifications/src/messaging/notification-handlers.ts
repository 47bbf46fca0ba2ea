import type { Knex } from 'knex';
import { eventTypes, type DomainEvent, type EventType } from '@guitaronline/contracts';
import type { BatchHandler, EventHandler, EventHandlers } from '@guitaronline/messaging';
import { afterCommit } from '@guitaronline/platform';
import type { Clock } from '../domain/clock';
import { renderEmail } from '../domain/email-templates';
import { isNotifiable, recipientsOf } from '../domain/recipients';
import { createEventDeliveries, releaseAwaitingNotifications, type MadeDeliveries } from '../data/notification-repository';
import type { DeliveryWorker } from '../domain/delivery-worker';
import { findRecipients, upsertRecipient } from '../data/recipient-repository';

export interface HandlerDeps {
  clock: Clock;
  /** Called after a commit that made deliveries due for a scan: wakes the in-process worker. */
  onDeliveriesDue: () => void;
  /**
   * The in-process worker, when e-mails are made already claimed for it: it gives the lease (or
   * null: leave them to its scans) and sends what a commit claimed.
   */
  sender?: Pick<DeliveryWorker, 'claimAtInsert' | 'deliverClaimed'>;
}

/**
 * What events make: an e-mail per recipient (for the types of EVENTS.md that notify people) and
 * a webhook delivery per live subscription to their type; one recipient lookup and one write
 * for all of them. A recipient not yet in the read model (their registration event has not
 * arrived) gets a notification without an address whose delivery waits, unscheduled, for it.
 */
async function deliveriesFor(trx: Knex.Transaction, events: readonly DomainEvent[], now: Date, claim: { leaseUntil: Date } | null): Promise<MadeDeliveries> {
  const people = events.map((event) => (isNotifiable(event.type) ? recipientsOf(event) : []));
  const known = await findRecipients(trx, [...new Set(people.flat())]);
  return createEventDeliveries(
    trx,
    events.map((event, i) => ({
      eventId: event.id,
      eventType: event.type,
      occurredAt: new Date(event.occurredAt),
      correlationId: event.correlationId,
      payload: event.payload as Record<string, unknown>,
      emails: people[i]!.map((userId) => {
        const recipient = known.get(userId);
        const content = renderEmail(event, { userId, fullName: recipient?.fullName });
        return { userId, email: recipient?.email ?? null, subject: content.subject, text: content.text };
      }),
    })),
    now,
    claim,
  );
}

/**
 * Handlers for every catalogue type: any type can have webhook subscribers; the types of
 * EVENTS.md also notify their people by e-mail.
 *
 * Early/late/twice: a notification is made from the event alone (no order between events is
 * assumed); a recipient's registration arriving late releases the notifications waiting for
 * it; twice is stopped by the inbox and, behind it, by the unique (event, recipient, channel)
 * and (event, subscription) keys.
 */
export function notificationHandlers(deps: HandlerDeps): { handlers: EventHandlers; handleBatch: BatchHandler } {
  /**
   * Registrations first (the recipients' read model; a late registration releases the
   * notifications waiting for it), then what every event makes, the registrations' webhooks
   * included: an event finds the address of a recipient registered anywhere in its batch.
   */
  const handleBatch: BatchHandler = async (trx, events) => {
    const now = deps.clock();
    let due = 0;
    for (const event of events) {
      if (event.type !== 'identity.user.registered') continue;
      const p = (event as DomainEvent<'identity.user.registered'>).payload;
      await upsertRecipient(trx, { userId: p.userId, email: p.email, role: p.role, fullName: p.fullName, registeredAt: new Date(event.occurredAt) }, now);
      due += await releaseAwaitingNotifications(trx, p.userId, p.email, now);
    }
    const { sender } = deps;
    const made = await deliveriesFor(trx, events, now, sender?.claimAtInsert() ?? null);
    due += made.due;
    if (due > 0) afterCommit(trx, deps.onDeliveriesDue);
    if (sender && made.claimed.length > 0) afterCommit(trx, () => sender.deliverClaimed(made.claimed));
  };
  const handleOne: EventHandler = (trx, event) => handleBatch(trx, [event]);
  const handlers: Partial<Record<EventType, EventHandler>> = {};
  for (const type of eventTypes) handlers[type] = handleOne;
  return { handlers: handlers as EventHandlers, handleBatch };
}
