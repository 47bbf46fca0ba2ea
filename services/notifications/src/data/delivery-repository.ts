import type { Knex } from 'knex';
import { announceCommitted, newEnvelopes, recordEvent } from '@guitaronline/messaging';
import { MicroBatcher, unprepared } from '@guitaronline/platform';
import type { ClaimedDelivery, ClaimedEmail, DeliveryStore, PausedChannels } from '../domain/delivery';

type Db = Knex | Knex.Transaction;

const LIVE = ['pending', 'sending', 'failed'];

/** A deleted subscription receives nothing more: its unsettled deliveries are canceled. */
export async function cancelSubscriptionDeliveries(db: Db, subscriptionId: string, now: Date): Promise<number> {
  return db('deliveries')
    .where({ subscription_id: subscriptionId })
    .whereIn('status', LIVE)
    .update({ status: 'canceled', claim_token: null, next_attempt_at: null, last_error: 'subscription deleted', updated_at: now });
}

/** A claimed delivery as SQL returns it (a row, or a row built as JSON: `occurred_at` then comes as text). */
export interface ClaimedRow {
  id: string;
  channel: 'email' | 'webhook';
  claim_token: string;
  attempts: number;
  event_id: string;
  event_type: string;
  occurred_at: Date | string;
  correlation_id: string | null;
  payload: Record<string, unknown> | null;
  notification_id: string | null;
  subscription_id: string | null;
  user_id: string | null;
  email: string | null;
  subject: string | null;
  body: string | null;
  url: string | null;
  secret: string | null;
}

export function toClaimed(r: ClaimedRow): ClaimedDelivery {
  const base = {
    id: r.id,
    claimToken: r.claim_token,
    attempts: r.attempts,
    eventId: r.event_id,
    eventType: r.event_type,
    occurredAt: new Date(r.occurred_at).toISOString(),
    correlationId: r.correlation_id,
  };
  if (r.channel === 'email') {
    return { ...base, channel: 'email', notificationId: r.notification_id!, userId: r.user_id!, to: r.email!, subject: r.subject!, text: r.body! };
  }
  return { ...base, channel: 'webhook', subscriptionId: r.subscription_id!, url: r.url!, secret: r.secret!, data: r.payload ?? {} };
}

function pausedFilter(paused: PausedChannels): { sql: string; bindings: unknown[] } {
  return {
    sql: `and (not ? or d.channel <> 'email')
          and (d.subscription_id is null or not (d.subscription_id = any(?::uuid[])))`,
    bindings: [paused.email, paused.subscriptions],
  };
}

/** How a try that did not succeed ends (a success is marked by markSentTogether). */
type Outcome = 'failed' | 'dead';

/**
 * The delivery schedule in Postgres. Claims take due rows with FOR UPDATE SKIP LOCKED, so
 * replicas never claim the same row; every later mark is conditional on the claim token, so a
 * worker whose lease ran out (and whose row was claimed again) cannot overwrite the new claim.
 */
export class PgDeliveryStore implements DeliveryStore {
  /**
   * Sends that ended meanwhile are marked together: one statement per flush, not a transaction
   * per mail; a flush that is not full (`markBatch`: the worker's scan size, so a scan's marks
   * never wait) waits `markLingerMs` for more. The mail is out already: the mark and its
   * notification.sent lag by that much, and a crash inside it re-sends, as one between a send
   * and its mark always could.
   */
  private readonly sentMarks: MicroBatcher<{ delivery: ClaimedDelivery; now: Date }, boolean>;

  constructor(
    private readonly knex: Knex,
    { markLingerMs = 0, markBatch = 500 }: { markLingerMs?: number; markBatch?: number } = {},
  ) {
    this.sentMarks = new MicroBatcher((marks) => this.markSentTogether(marks), markBatch, markLingerMs);
  }

  async claimDue({ now, leaseUntil, limit, paused }: Parameters<DeliveryStore['claimDue']>[0]): Promise<ClaimedDelivery[]> {
    const filter = pausedFilter(paused);
    const { rows } = await this.knex.raw<{ rows: ClaimedRow[] }>(
      `with due as (
         select d.id from deliveries d
         where d.status in ('pending', 'sending', 'failed')
           and d.next_attempt_at <= ?
           ${filter.sql}
           and (d.subscription_id is null
                or exists (select 1 from webhook_subscriptions s where s.id = d.subscription_id and s.deleted_at is null))
         order by d.next_attempt_at
         limit ?
         for update of d skip locked
       ), claimed as (
         update deliveries d
         set status = 'sending', claim_token = gen_random_uuid(), next_attempt_at = ?, updated_at = ?
         from due where d.id = due.id
         returning d.*
       )
       select c.id, c.channel, c.claim_token, c.attempts, c.event_id, c.event_type, c.occurred_at, c.correlation_id, c.payload,
              c.notification_id, c.subscription_id, n.user_id, n.email, n.subject, n.body, s.url, s.secret
       from claimed c
       left join notifications n on n.id = c.notification_id
       left join webhook_subscriptions s on s.id = c.subscription_id`,
      [now, ...filter.bindings, limit, leaseUntil, now],
    );
    return rows.map(toClaimed);
  }

  async nextDueAt(paused: PausedChannels): Promise<Date | null> {
    const filter = pausedFilter(paused);
    const { rows } = await this.knex.raw<{ rows: { next: Date | null }[] }>(
      `select min(d.next_attempt_at) as next from deliveries d
       where d.status in ('pending', 'sending', 'failed') and d.next_attempt_at is not null ${filter.sql}`,
      filter.bindings,
    );
    return rows[0]?.next ?? null;
  }

  markSent(delivery: ClaimedDelivery, now: Date): Promise<boolean> {
    return this.sentMarks.submit({ delivery, now });
  }

  /**
   * Ends tries that succeeded, in one statement (so one atomic write, no transaction round
   * trips): each row is marked sent if the claim is still its own, its attempt is logged and,
   * for an e-mail, its notification.sent event written to the outbox. The claim token guards
   * the attempt count too, so the events are built beforehand with `attempts + 1`; those of a
   * lost claim are not inserted. Answers, per mark, whether the claim held.
   */
  private async markSentTogether(marks: { delivery: ClaimedDelivery; now: Date }[]): Promise<boolean[]> {
    const emails = marks.filter((m): m is { delivery: ClaimedEmail; now: Date } => m.delivery.channel === 'email');
    const events = newEnvelopes(
      emails.map(({ delivery, now }) => ({
        type: 'notification.sent' as const,
        aggregateId: delivery.notificationId,
        payload: { notificationId: delivery.notificationId, userId: delivery.userId, channel: 'email' as const, attempts: delivery.attempts + 1 },
        occurredAt: now,
        correlationId: delivery.correlationId ?? undefined,
        causationId: delivery.eventId,
      })),
    );
    // unprepared (platform prepared-statements.ts): a generic plan takes the marks for 10 rows
    // whatever their number and, made while deliveries was small, scans every sending row for
    // them; planned with the marks at hand it looks each one up by key
    const { rows } = await unprepared(
      this.knex.raw<{ rows: { id: string }[] }>(
        `with done as (
           select * from unnest(:ids::uuid[], :tokens::uuid[], :ats::timestamptz[]) as t(id, claim_token, at)
         ), sent as (
           update deliveries d
           set status = 'sent', sent_at = done.at, last_error = null, next_attempt_at = null, attempts = d.attempts + 1,
               claim_token = null, last_attempt_at = done.at, updated_at = done.at
           from done
           where d.id = done.id and d.claim_token = done.claim_token and d.status = 'sending'
           returning d.id, d.attempts, done.at
         ), logged as (
           insert into delivery_attempts (delivery_id, attempt, outcome, attempted_at)
           select id, attempts, 'sent', at from sent
         ), recorded as (
           insert into outbox (id, type, aggregate_id, envelope)
           select e.id, 'notification.sent', e.aggregate_id, e.envelope
           from unnest(:eventDeliveries::uuid[], :eventIds::uuid[], :aggregates::text[], :envelopes::jsonb[]) as e(delivery_id, id, aggregate_id, envelope)
           join sent on sent.id = e.delivery_id
         )
         select id from sent`,
        {
          ids: marks.map((m) => m.delivery.id),
          tokens: marks.map((m) => m.delivery.claimToken),
          ats: marks.map((m) => m.now),
          eventDeliveries: emails.map((m) => m.delivery.id),
          eventIds: events.map((e) => e.id),
          aggregates: events.map((e) => e.aggregateId),
          envelopes: events.map((e) => JSON.stringify(e)),
        },
      ),
    );
    const marked = new Set(rows.map((r) => r.id));
    announceCommitted(
      this.knex,
      events.filter((_, i) => marked.has(emails[i]!.delivery.id)),
    );
    return marks.map((m) => marked.has(m.delivery.id));
  }

  markFailed(delivery: ClaimedDelivery, { now, error, nextAttemptAt }: { now: Date; error: string; nextAttemptAt: Date | null }): Promise<boolean> {
    const dead = nextAttemptAt === null;
    return this.finish(
      delivery,
      dead ? 'dead' : 'failed',
      now,
      { status: dead ? 'dead' : 'failed', last_error: error, next_attempt_at: nextAttemptAt },
      error,
    );
  }

  async postpone(delivery: ClaimedDelivery, { now, until, reason }: { now: Date; until: Date; reason: string }): Promise<boolean> {
    const n = await this.knex('deliveries')
      .where({ id: delivery.id, claim_token: delivery.claimToken, status: 'sending' })
      .update({
        status: this.knex.raw(`case when attempts > 0 then 'failed' else 'pending' end`),
        claim_token: null,
        next_attempt_at: until,
        last_error: reason,
        updated_at: now,
      });
    return n > 0;
  }

  /**
   * Ends a failed try in one transaction: the conditional update of the row, the attempt log
   * and, for an e-mail notification that is dead, its notification.failed event.
   */
  private async finish(delivery: ClaimedDelivery, outcome: Outcome, now: Date, fields: Record<string, unknown>, error?: string): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const rows: { attempts: number; correlation_id: string | null; next_attempt_at: Date | null }[] = await trx('deliveries')
        .where({ id: delivery.id, claim_token: delivery.claimToken, status: 'sending' })
        .update({ ...fields, attempts: trx.raw('attempts + 1'), claim_token: null, last_attempt_at: now, updated_at: now })
        .returning(['attempts', 'correlation_id', 'next_attempt_at']);
      const row = rows[0];
      if (!row) return false;
      await trx('delivery_attempts').insert({
        delivery_id: delivery.id,
        attempt: row.attempts,
        outcome,
        error: error ?? null,
        attempted_at: now,
        next_attempt_at: row.next_attempt_at,
      });
      if (delivery.channel === 'email' && outcome === 'dead') {
        await recordEvent(trx, {
          type: 'notification.failed',
          aggregateId: delivery.notificationId,
          payload: { notificationId: delivery.notificationId, userId: delivery.userId, channel: 'email', attempts: row.attempts },
          occurredAt: now,
          correlationId: row.correlation_id ?? undefined,
          causationId: delivery.eventId,
        });
      }
      return true;
    });
  }
}

/**
 * Deletes settled history older than `before` (DESIGN.md rule 12: nothing grows without
 * bound): sent/dead e-mail notifications with their deliveries and attempt logs, settled
 * webhook deliveries, and deleted subscriptions nothing refers to any more. Unsettled rows
 * are never touched. Works in batches so one purge never holds long locks.
 */
export async function purgeSettledHistory(knex: Knex, before: Date, batch = 1000): Promise<{ notifications: number; webhookDeliveries: number; subscriptions: number }> {
  const loop = async (sql: string) => {
    let total = 0;
    for (;;) {
      const { rowCount } = await knex.raw<{ rowCount: number }>(sql, [before, batch]);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < batch) return total;
    }
  };
  const notifications = await loop(
    `delete from notifications where id in (
       select n.id from notifications n join deliveries d on d.notification_id = n.id
       where n.created_at < ? and d.status in ('sent', 'dead') limit ?)`,
  );
  const webhookDeliveries = await loop(
    `delete from deliveries where id in (
       select id from deliveries where channel = 'webhook' and status in ('sent', 'dead', 'canceled') and updated_at < ? limit ?)`,
  );
  const subscriptions = await loop(
    `delete from webhook_subscriptions where id in (
       select s.id from webhook_subscriptions s
       where s.deleted_at < ? and not exists (select 1 from deliveries d where d.subscription_id = s.id) limit ?)`,
  );
  return { notifications, webhookDeliveries, subscriptions };
}
