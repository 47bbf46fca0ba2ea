import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { ClaimedEmail, DeliveryChannel, DeliveryStatus } from '../domain/delivery';
import { toClaimed, type ClaimedRow } from './delivery-repository';
import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';

type Db = Knex | Knex.Transaction;

/** An e-mail to one recipient of an event. */
export interface NewEmail {
  userId: string;
  /** Null while the recipient is not yet in the read model: the delivery waits for it. */
  email: string | null;
  subject: string;
  text: string;
}

export interface EventDeliveriesInput {
  eventId: string;
  eventType: string;
  occurredAt: Date;
  correlationId: string;
  payload: Record<string, unknown>;
  emails: readonly NewEmail[];
}

/** What createEventDeliveries made: e-mails claimed for the caller's worker, and how many others are due now. */
export interface MadeDeliveries {
  /** Claimed in the same write (`claim` given): the caller sends them once it commits. */
  claimed: ClaimedEmail[];
  /** Deliveries due now that a scan will claim (webhooks; e-mails when not claimed). */
  due: number;
}

/**
 * Everything some events make, in one statement: per event, an e-mail notification and its
 * delivery per recipient (the unique (event, user, channel) key makes a second call a no-op),
 * and a webhook delivery per live subscription to their type (unique per (subscription, event)).
 * With `claim`, an e-mail whose address is known is made already claimed (`sending`, a claim
 * token, the lease as its next attempt time) and returned, so it goes out as soon as the caller
 * commits without a second write to claim it; should it never go out, its lease runs out and a
 * scan claims it like any other. The subscriptions are read FOR SHARE until the caller commits,
 * so a concurrent delete waits for the deliveries made here and then cancels them too (or, if it
 * committed first, the re-checked row no longer matches and nothing is made).
 */
export async function createEventDeliveries(
  trx: Knex.Transaction,
  events: readonly EventDeliveriesInput[],
  now: Date,
  claim: { leaseUntil: Date } | null = null,
): Promise<MadeDeliveries> {
  if (events.length === 0) return { claimed: [], due: 0 };
  const mails = events.flatMap((e) => e.emails.map((m) => ({ ...m, eventId: e.eventId })));
  const { rows } = await trx.raw<{ rows: { claimed: ClaimedRow[] | null; due: number }[] }>(
    `with events as (
       select * from unnest(:eventIds::uuid[], :types::text[], :occurredAts::timestamptz[], :correlationIds::text[], :payloads::jsonb[])
         as e(event_id, event_type, occurred_at, correlation_id, payload)
     ), input as (
       select * from unnest(:ids::uuid[], :mailEvents::uuid[], :users::uuid[], :emails::text[], :subjects::text[], :bodies::text[])
         as i(id, event_id, user_id, email, subject, body)
     ), made as (
       insert into notifications (id, event_id, event_type, user_id, channel, email, subject, body, created_at)
       select i.id, i.event_id, e.event_type, i.user_id, 'email', i.email, i.subject, i.body, :now
       from input i join events e on e.event_id = i.event_id
       on conflict (event_id, user_id, channel) do nothing
       returning id, event_id, user_id, email, subject, body
     ), mails as (
       insert into deliveries (id, channel, notification_id, event_id, event_type, occurred_at, correlation_id,
                               status, claim_token, attempts, next_attempt_at, created_at, updated_at)
       select gen_random_uuid(), 'email', made.id, e.event_id, e.event_type, e.occurred_at, e.correlation_id,
              case when made.email is not null and :claim then 'sending' else 'pending' end,
              case when made.email is not null and :claim then gen_random_uuid() end,
              0,
              case when made.email is null then null when :claim then :leaseUntil::timestamptz else :now::timestamptz end,
              :now, :now
       from made join events e on e.event_id = made.event_id
       returning id, status, claim_token, notification_id, event_id, event_type, occurred_at, correlation_id, next_attempt_at
     ), subscribed as (
       select e.event_id, s.id as subscription_id
       from events e join webhook_subscriptions s on s.deleted_at is null and s.events @> array[e.event_type]
       for share of s
     ), hooks as (
       insert into deliveries (id, channel, subscription_id, event_id, event_type, occurred_at, correlation_id, payload,
                               status, attempts, next_attempt_at, created_at, updated_at)
       select gen_random_uuid(), 'webhook', sub.subscription_id, e.event_id, e.event_type, e.occurred_at, e.correlation_id, e.payload,
              'pending', 0, :now, :now, :now
       from subscribed sub join events e on e.event_id = sub.event_id
       on conflict (subscription_id, event_id) where subscription_id is not null do nothing
       returning id
     )
     select (select json_agg(json_build_object(
               'id', m.id, 'channel', 'email', 'claim_token', m.claim_token, 'attempts', 0, 'notification_id', m.notification_id,
               'event_id', m.event_id, 'event_type', m.event_type, 'occurred_at', m.occurred_at, 'correlation_id', m.correlation_id,
               'payload', null, 'subscription_id', null, 'url', null, 'secret', null,
               'user_id', made.user_id, 'email', made.email, 'subject', made.subject, 'body', made.body))
             from mails m join made on made.id = m.notification_id where m.status = 'sending') as claimed,
            ((select count(*) from mails where status = 'pending' and next_attempt_at is not null) + (select count(*) from hooks))::int as due`,
    {
      eventIds: events.map((e) => e.eventId),
      types: events.map((e) => e.eventType),
      occurredAts: events.map((e) => e.occurredAt),
      correlationIds: events.map((e) => e.correlationId),
      payloads: events.map((e) => JSON.stringify(e.payload)),
      ids: mails.map(() => randomUUID()),
      mailEvents: mails.map((m) => m.eventId),
      users: mails.map((m) => m.userId),
      emails: mails.map((m) => m.email),
      subjects: mails.map((m) => m.subject),
      bodies: mails.map((m) => m.text),
      now,
      claim: claim !== null,
      leaseUntil: claim?.leaseUntil ?? now,
    },
  );
  // claimed rows are e-mails (the statement claims no webhook)
  const claimed = (rows[0]?.claimed ?? []).map(toClaimed) as ClaimedEmail[];
  return { claimed, due: rows[0]?.due ?? 0 };
}

/**
 * A recipient became known: notifications made before their registration arrived get the
 * address and their deliveries become due. Returns how many were released.
 */
export async function releaseAwaitingNotifications(db: Db, userId: string, email: string, now: Date): Promise<number> {
  const ids: { id: string }[] = await db('notifications').where({ user_id: userId }).whereNull('email').update({ email }).returning('id');
  if (ids.length === 0) return 0;
  return db('deliveries')
    .whereIn(
      'notification_id',
      ids.map((r) => r.id),
    )
    .where({ status: 'pending' })
    .whereNull('next_attempt_at')
    .update({ next_attempt_at: now, updated_at: now });
}

export interface UserNotification {
  id: string;
  type: string;
  channel: 'email';
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  subject: string;
  createdAt: Date;
  sentAt: Date | null;
}

function publicStatus(status: DeliveryStatus): UserNotification['status'] {
  if (status === 'sent') return 'sent';
  if (status === 'dead' || status === 'canceled') return 'failed';
  return 'pending';
}

interface UserNotificationRow {
  id: string;
  event_type: string;
  channel: 'email';
  subject: string;
  created_at: Date;
  status: DeliveryStatus;
  attempts: number;
  sent_at: Date | null;
}

export async function listUserNotifications(db: Db, userId: string, page: PageRequest): Promise<Page<UserNotification>> {
  const query = db('notifications as n')
    .join('deliveries as d', 'd.notification_id', 'n.id')
    .where('n.user_id', userId)
    .select('n.id', 'n.event_type', 'n.channel', 'n.subject', 'n.created_at', 'd.status', 'd.attempts', 'd.sent_at');
  const { items, nextCursor } = await keysetPage<UserNotificationRow>(query, page, { at: 'n.created_at', id: 'n.id' });
  return {
    items: items.map((r) => ({
      id: r.id,
      type: r.event_type,
      channel: r.channel,
      status: publicStatus(r.status),
      attempts: r.attempts,
      subject: r.subject,
      createdAt: r.created_at,
      sentAt: r.sent_at,
    })),
    nextCursor,
  };
}

export interface ChannelCounts {
  pending: number;
  sent: number;
  failed: number;
  canceled: number;
  total: number;
  retrying: number;
  deadLettered: number;
}

const emptyCounts = (): ChannelCounts => ({ pending: 0, sent: 0, failed: 0, canceled: 0, total: 0, retrying: 0, deadLettered: 0 });

/**
 * Delivery figures for admins. Per channel: pending = not yet settled (first try, retrying,
 * in flight or waiting for the recipient), sent, failed = dead-lettered, canceled (a deleted
 * webhook subscription), retrying = not settled after at least one failed attempt.
 */
export async function deliveryFigures(db: Db) {
  const rows: { channel: DeliveryChannel; status: DeliveryStatus; retried: boolean; awaiting: boolean; n: number }[] = await db('deliveries')
    .select(
      'channel',
      'status',
      db.raw('attempts > 0 as retried'),
      db.raw(`(status = 'pending' and next_attempt_at is null) as awaiting`),
      db.raw('count(*)::int as n'),
    )
    .groupByRaw('1, 2, 3, 4');
  const byChannel: Record<DeliveryChannel, ChannelCounts> = { email: emptyCounts(), webhook: emptyCounts() };
  let awaitingRecipient = 0;
  let inFlight = 0;
  for (const r of rows) {
    const c = byChannel[r.channel];
    c.total += r.n;
    if (r.status === 'sent') c.sent += r.n;
    else if (r.status === 'dead') {
      c.failed += r.n;
      c.deadLettered += r.n;
    } else if (r.status === 'canceled') c.canceled += r.n;
    else {
      c.pending += r.n;
      if (r.retried) c.retrying += r.n;
      if (r.status === 'sending') inFlight += r.n;
      if (r.awaiting) awaitingRecipient += r.n;
    }
  }
  const sum = (k: keyof ChannelCounts) => byChannel.email[k] + byChannel.webhook[k];
  return {
    notifications: { pending: sum('pending'), sent: sum('sent'), failed: sum('failed'), total: sum('total') },
    deliveries: { retrying: sum('retrying'), deadLettered: sum('deadLettered'), awaitingRecipient, inFlight },
    byChannel,
  };
}

export async function deadLetteredCount(db: Db): Promise<number> {
  const row = await db('deliveries').where({ status: 'dead' }).count<{ n: string }[]>('* as n').first();
  return Number(row?.n ?? 0);
}
