import type { Knex } from 'knex';
import { errors, type Logger } from '@guitaronline/platform';
import { eventTypes, isEventType, type EventType } from '@guitaronline/contracts';
import { notifiableTypes } from '../domain/recipients';
import type { WebhookStore } from '../domain/webhook-subscriptions';
import { cancelSubscriptionDeliveries } from '../data/delivery-repository';
import { insertSubscription, markSubscriptionDeleted, subscribedEventTypes } from '../data/webhook-repository';

/** Changes to the queue's bindings (the consumer's bind/unbind). */
export interface Router {
  bind(types: readonly EventType[]): Promise<void>;
  unbind(types: readonly EventType[]): Promise<void>;
}

/**
 * The event types the queue is bound to: those that notify people, the recipients' read model
 * and `extra` (the types webhook subscriptions name). Types outside the catalogue are left out.
 */
export function routedEventTypes(extra: readonly string[] = []): EventType[] {
  return [...new Set<EventType>([...notifiableTypes, 'identity.user.registered', ...extra.filter(isEventType)])];
}

/**
 * Bindings change only under this transaction-scoped lock, taken by every replica before it
 * reads the subscriptions a change depends on: a delete cannot unbind a type that a concurrent
 * subscribe has just bound for a new subscription.
 */
async function lockRouting(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', ['notifications:event-routing']);
}

/**
 * Subscriptions with the queue's bindings kept in step: a subscription's types are bound before
 * it is stored (if the broker cannot be reached, the bind rejects and nothing is stored), and a
 * type no live subscription names any more is unbound when the last one is deleted (if that
 * unbind fails, the extra binding only brings events nobody is subscribed to; the next start's
 * reconcile removes it).
 */
export function routedWebhookStore(knex: Knex, router: Router, logger: Logger): WebhookStore {
  return {
    insert: (input, now) =>
      knex.transaction(async (trx) => {
        await lockRouting(trx);
        await router.bind(input.events.filter(isEventType)).catch((err: unknown) => {
          logger.warn({ err: (err as Error).message, types: input.events }, 'could not bind the queue to a new subscription\'s event types');
          throw errors.unavailable('The event bus is unreachable; the subscription was not made. Try again shortly.');
        });
        return insertSubscription(trx, input, now);
      }),
    async deleteAndCancel(id, now) {
      // unbound inside the transaction (under the lock); if it then fails to commit, the
      // subscription is still live and gets its types back
      let unbound: EventType[] = [];
      try {
        return await knex.transaction(async (trx) => {
          await lockRouting(trx);
          const deleted = await markSubscriptionDeleted(trx, id, now);
          if (!deleted) return false;
          await cancelSubscriptionDeliveries(trx, id, now);
          const stillRouted = routedEventTypes(await subscribedEventTypes(trx));
          const orphaned = deleted.events.filter(isEventType).filter((t) => !stillRouted.includes(t));
          await router.unbind(orphaned).then(
            () => (unbound = orphaned),
            (err: unknown) => logger.warn({ err: (err as Error).message, types: orphaned }, 'could not unbind event types no subscription names'),
          );
          return true;
        });
      } catch (err) {
        await router.bind(unbound).catch((bindErr: unknown) =>
          logger.error({ err: (bindErr as Error).message, types: unbound }, 'a delete failed after unbinding its types and they could not be bound again; the next start binds them'),
        );
        throw err;
      }
    },
  };
}

/**
 * At start, under the lock: binds what the service needs and unbinds every other catalogue type
 * (a queue an earlier version bound to every type, an unbind that failed).
 */
export async function reconcileRouting(knex: Knex, router: Router): Promise<{ bound: EventType[]; unbound: EventType[] }> {
  return knex.transaction(async (trx) => {
    await lockRouting(trx);
    const bound = routedEventTypes(await subscribedEventTypes(trx));
    const unbound = eventTypes.filter((t) => !bound.includes(t));
    await router.bind(bound);
    await router.unbind(unbound);
    return { bound, unbound };
  });
}
