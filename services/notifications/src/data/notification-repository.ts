import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { DeliveryChannel, DeliveryStatus } from '../domain/delivery';
import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';

type Db = Knex | Knex.Transaction;

export interface NewEmailNotification {
  eventId: string;
  eventType: string;
  occurredAt: Date;
  correlationId: string;
  userId: string;
  /** Null while the recipient is not yet in the read model: the delivery waits for it. */
  email: string | null;
  subject: string;
  text: string;
}

/**
 * One e-mail notification and its delivery row. The unique (event, user, channel) key makes a
 * second call for the same event a no-op; returns whether a new row was made.
 */
export async function createEmailNotification(db: Db, input: NewEmailNotification, now: Date): Promise<boolean> {
  const id = randomUUID();
  const inserted = await db('notifications')
    .insert({
      id,
      event_id: input.eventId,
      event_type: input.eventType,
      user_id: input.userId,
      channel: 'email',
      email: input.email,
      subject: input.subject,
      body: input.text,
      created_at: now,
    })
    .onConflict(['event_id', 'user_id', 'channel'])
    .ignore()
    .returning('id');
  if (inserted.length === 0) return false;
  await db('deliveries').insert({
    id: randomUUID(),
    channel: 'email',
    notification_id: id,
    event_id: input.eventId,
    event_type: input.eventType,
    occurred_at: input.occurredAt,
    correlation_id: input.correlationId,
    status: 'pending',
    attempts: 0,
    next_attempt_at: input.email ? now : null,
    created_at: now,
    updated_at: now,
  });
  return true;
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
