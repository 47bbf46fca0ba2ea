import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { cancelSubscriptionDeliveries } from './delivery-repository';
import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';

type Db = Knex | Knex.Transaction;

export interface WebhookSubscription {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: Date;
}

interface Row {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  created_at: Date;
}

const toSubscription = (r: Row): WebhookSubscription => ({ id: r.id, url: r.url, events: r.events, description: r.description, createdAt: r.created_at });

export async function insertSubscription(
  db: Db,
  input: { url: string; events: string[]; description?: string; secret: string; createdBy: string },
  now: Date,
): Promise<WebhookSubscription> {
  const [row]: Row[] = await db('webhook_subscriptions')
    .insert({
      id: randomUUID(),
      url: input.url,
      events: input.events,
      description: input.description ?? null,
      secret: input.secret,
      created_by: input.createdBy,
      created_at: now,
    })
    .returning(['id', 'url', 'events', 'description', 'created_at']);
  return toSubscription(row);
}

export async function listLiveSubscriptions(db: Db, page: PageRequest): Promise<Page<WebhookSubscription>> {
  const query = db('webhook_subscriptions').whereNull('deleted_at').select('id', 'url', 'events', 'description', 'created_at');
  const { items, nextCursor } = await keysetPage<Row>(query, page);
  return { items: items.map(toSubscription), nextCursor };
}

/** Soft delete (old deliveries keep their subscription); false if there was no live one. */
export async function markSubscriptionDeleted(db: Db, id: string, now: Date): Promise<boolean> {
  const n = await db('webhook_subscriptions').where({ id }).whereNull('deleted_at').update({ deleted_at: now });
  return n > 0;
}

/**
 * Live subscriptions to an event type, locked FOR SHARE until the caller commits: a concurrent
 * delete waits for the deliveries made here and then cancels them too (or, if it committed
 * first, the re-checked row no longer matches and nothing is made).
 */
export async function lockSubscriptionsFor(db: Knex.Transaction, eventType: string): Promise<string[]> {
  const rows: { id: string }[] = await db('webhook_subscriptions')
    .select('id')
    .whereNull('deleted_at')
    .whereRaw('events @> array[?]::text[]', [eventType])
    .forShare();
  return rows.map((r) => r.id);
}

/** The WebhookStore of the domain, on Postgres. */
export function pgWebhookStore(knex: Knex) {
  return {
    insert: (input: Parameters<typeof insertSubscription>[1], now: Date) => insertSubscription(knex, input, now),
    deleteAndCancel: (id: string, now: Date) =>
      knex.transaction(async (trx) => {
        if (!(await markSubscriptionDeleted(trx, id, now))) return false;
        await cancelSubscriptionDeliveries(trx, id, now);
        return true;
      }),
  };
}
