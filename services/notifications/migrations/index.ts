import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

/**
 * The notifications schema.
 * - recipients: read model of identity.user.registered (never identity's tables).
 * - notifications: one per (event, recipient, channel) — the UNIQUE constraint makes a
 *   redelivered event harmless even past the inbox.
 * - webhook_subscriptions: managed by admins; soft-deleted so old deliveries keep their row.
 * - deliveries: the delivery schedule, one per e-mail notification or per (event, subscription);
 *   the worker claims due rows with FOR UPDATE SKIP LOCKED.
 * - delivery_attempts: one row per finished attempt (outcome, error, the delay chosen).
 */
export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);
      await knex.raw(`
        create table recipients (
          user_id uuid primary key,
          email text not null check (char_length(email) <= 254),
          role text not null check (role in ('student', 'teacher', 'admin')),
          full_name text not null check (char_length(full_name) <= 200),
          registered_at timestamptz not null,
          updated_at timestamptz not null default now()
        );

        create table webhook_subscriptions (
          id uuid primary key,
          url text not null check (url ~ '^(http|https)://' and char_length(url) <= 2048),
          events text[] not null check (cardinality(events) > 0),
          description text check (char_length(description) <= 500),
          secret text not null,
          created_by uuid,
          created_at timestamptz not null,
          deleted_at timestamptz
        );
        create index webhook_subscriptions_live_events_idx on webhook_subscriptions using gin (events) where deleted_at is null;
        create index webhook_subscriptions_created_idx on webhook_subscriptions (created_at desc, id desc) where deleted_at is null;

        create table notifications (
          id uuid primary key,
          event_id uuid not null,
          event_type text not null,
          user_id uuid not null,
          channel text not null check (channel in ('email')),
          email text,
          subject text not null,
          body text not null,
          created_at timestamptz not null,
          constraint notifications_event_recipient_channel_key unique (event_id, user_id, channel)
        );
        create index notifications_user_created_idx on notifications (user_id, created_at desc, id desc);
        create index notifications_awaiting_address_idx on notifications (user_id) where email is null;

        create table deliveries (
          id uuid primary key,
          channel text not null check (channel in ('email', 'webhook')),
          notification_id uuid unique references notifications (id) on delete cascade,
          subscription_id uuid references webhook_subscriptions (id),
          event_id uuid not null,
          event_type text not null,
          occurred_at timestamptz not null,
          -- the causing event's correlation id: notification.sent/failed continue its trace
          correlation_id text,
          payload jsonb,
          status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed', 'dead', 'canceled')),
          attempts integer not null default 0 check (attempts >= 0),
          next_attempt_at timestamptz,
          claim_token uuid,
          last_error text,
          last_attempt_at timestamptz,
          sent_at timestamptz,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          constraint deliveries_target_check check (
            (channel = 'email' and notification_id is not null and subscription_id is null)
            or (channel = 'webhook' and subscription_id is not null and notification_id is null and payload is not null)
          ),
          constraint deliveries_sent_check check (status <> 'sent' or sent_at is not null),
          constraint deliveries_sending_check check (status <> 'sending' or (claim_token is not null and next_attempt_at is not null)),
          constraint deliveries_event_subscription_key unique (event_id, subscription_id)
        );
        -- the worker's claim scans only live rows, soonest first: its cost stays flat as history grows
        create index deliveries_due_idx on deliveries (next_attempt_at) where status in ('pending', 'sending', 'failed');
        create index deliveries_channel_status_idx on deliveries (channel, status);
        create index deliveries_live_subscription_idx on deliveries (subscription_id) where status in ('pending', 'sending', 'failed');

        create table delivery_attempts (
          id bigserial primary key,
          delivery_id uuid not null references deliveries (id) on delete cascade,
          attempt integer not null check (attempt > 0),
          outcome text not null check (outcome in ('sent', 'failed', 'dead')),
          error text,
          attempted_at timestamptz not null,
          next_attempt_at timestamptz,
          constraint delivery_attempts_once_key unique (delivery_id, attempt)
        );
      `);
    },
  },
  /**
   * Fewer index entries per delivery row version (a mail's row is written two or three times):
   * the (event, subscription) key only for webhook rows — an e-mail row has no subscription and
   * entered it for nothing — and led by the subscription, so it also serves a subscription's
   * cancel and the purge's "does anything still refer to it"; the (channel, status) index went
   * unused (the figures read the rows anyway) and the live-subscription index is covered by
   * the new key.
   */
  '0002_lean_delivery_indexes': {
    async up(knex) {
      await knex.raw(`
        create unique index deliveries_subscription_event_key on deliveries (subscription_id, event_id) where subscription_id is not null;
        alter table deliveries drop constraint deliveries_event_subscription_key;
        drop index deliveries_channel_status_idx;
        drop index deliveries_live_subscription_idx;
      `);
    },
  },
};
