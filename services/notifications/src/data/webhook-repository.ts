import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
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

/** Soft delete (old deliveries keep their subscription): the types it named; undefined if there was no live one. */
export async function markSubscriptionDeleted(db: Db, id: string, now: Date): Promise<{ events: string[] } | undefined> {
  const rows: { events: string[] }[] = await db('webhook_subscriptions').where({ id }).whereNull('deleted_at').update({ deleted_at: now }).returning(['events']);
  return rows[0];
}

/** The event types live subscriptions name (the service's queue must be bound to them). */
export async function subscribedEventTypes(db: Db): Promise<string[]> {
  const rows: { type: string }[] = await db.raw(`select distinct unnest(events) as type from webhook_subscriptions where deleted_at is null`).then((r: { rows: { type: string }[] }) => r.rows);
  return rows.map((r) => r.type);
}
