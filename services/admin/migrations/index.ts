import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

/**
 * Columns every KPI state table shares: the entity keeps the state whose key
 * (terminal, occurred_at, rank, event_id) is the greatest seen (see domain/kpi-rules.ts).
 */
const stateKey = `
  terminal boolean not null,
  occurred_at timestamptz not null,
  rank smallint not null,
  event_id uuid not null`;

export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);

      // every event of the catalogue, once: the source of traces and of KPI rebuilds
      await knex.raw(`
        create table event_log (
          event_id uuid primary key,
          type text not null,
          version integer not null,
          source text not null,
          correlation_id text not null,
          causation_id uuid,
          aggregate_id text not null,
          occurred_at timestamptz not null,
          received_at timestamptz not null default now(),
          payload jsonb not null
        )`);
      await knex.raw('create index event_log_correlation_idx on event_log (correlation_id, occurred_at)');
      await knex.raw('create index event_log_occurred_idx on event_log (occurred_at, event_id)');

      await knex.raw(`
        create table kpi_users (
          user_id uuid primary key,
          role text not null check (role in ('student', 'teacher', 'admin')),
          ${stateKey}
        )`);
      await knex.raw(`
        create table kpi_bookings (
          booking_id uuid primary key,
          status text not null check (status in ('hold', 'confirming', 'confirmed', 'rejected', 'canceled', 'expired')),
          rescheduled_from_id uuid,
          rescheduled_to_id uuid,
          ${stateKey}
        )`);
      await knex.raw(`
        create table kpi_lessons (
          lesson_id uuid primary key,
          booking_id uuid,
          status text not null check (status in ('scheduled', 'canceled', 'completed')),
          ${stateKey}
        )`);
      await knex.raw(`
        create table kpi_payments (
          payment_id uuid primary key,
          package_id uuid,
          status text not null check (status in ('pending', 'succeeded', 'failed', 'refunded')),
          amount_cents bigint not null check (amount_cents >= 0),
          currency char(3) not null,
          ${stateKey}
        )`);
      await knex.raw(`
        create table kpi_packages (
          package_id uuid primary key,
          status text not null check (status in ('active', 'depleted', 'expired', 'canceled')),
          lessons_left integer check (lessons_left >= 0),
          ${stateKey}
        )`);

      await knex.raw(`
        create table admin_actions (
          id uuid primary key,
          admin_id uuid not null,
          action text not null,
          target text,
          request_id text,
          details jsonb,
          at timestamptz not null default now()
        )`);
      await knex.raw('create index admin_actions_at_idx on admin_actions (at desc, id desc)');
      await knex.raw('create index admin_actions_admin_idx on admin_actions (admin_id, at desc, id desc)');
    },
  },
};
