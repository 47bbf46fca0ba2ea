import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

/**
 * Booking's schema. The database enforces the invariants (DESIGN.md rule 11):
 * - a teacher's live slots never overlap: an exclusion constraint over (teacher, time range)
 *   (btree_gist is created by provisioning as superuser; the service role cannot create it);
 * - one live booking (hold, confirming, confirmed) per slot: a partial unique index;
 * - statuses, refund/cancel fields and reschedule links are checked row by row.
 */
export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);

      await knex.raw(`
        create table slots (
          id uuid primary key,
          teacher_id uuid not null,
          start_at timestamptz not null,
          end_at timestamptz not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          deleted_at timestamptz,
          constraint slots_end_after_start check (end_at > start_at),
          constraint slots_at_most_4_hours check (end_at - start_at <= interval '4 hours'),
          constraint slots_no_overlap exclude using gist (teacher_id with =, tstzrange(start_at, end_at) with &&) where (deleted_at is null)
        )`);
      await knex.raw('create index slots_created_idx on slots (created_at desc, id desc) where deleted_at is null');
      await knex.raw('create index slots_start_idx on slots (start_at, id) where deleted_at is null');

      await knex.raw(`
        create table bookings (
          id uuid primary key,
          slot_id uuid not null references slots (id),
          student_id uuid not null,
          teacher_id uuid not null,
          package_id uuid,
          status text not null,
          start_at timestamptz not null,
          end_at timestamptz not null,
          hold_expires_at timestamptz not null,
          refundable boolean,
          reject_reason text,
          cancel_reason text,
          canceled_by text,
          canceled_by_id uuid,
          rescheduled_from_id uuid unique references bookings (id),
          rescheduled_to_id uuid unique references bookings (id),
          confirm_requested_at timestamptz,
          confirm_attempts integer not null default 0,
          confirmed_at timestamptz,
          canceled_at timestamptz,
          compensated_at timestamptz,
          correlation_id text,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          constraint bookings_status_known check (status in ('hold', 'confirming', 'confirmed', 'rejected', 'canceled', 'expired')),
          constraint bookings_canceled_by_role check (canceled_by is null or canceled_by in ('student', 'teacher', 'admin')),
          constraint bookings_cancel_fields check ((status = 'canceled') = (canceled_at is not null and refundable is not null and canceled_by is not null)),
          constraint bookings_confirmed_has_package check (status <> 'confirmed' or (package_id is not null and confirmed_at is not null)),
          constraint bookings_rejected_has_reason check ((status = 'rejected') = (reject_reason is not null)),
          constraint bookings_cancel_reason_length check (char_length(cancel_reason) <= 500),
          constraint bookings_confirm_attempts_nonnegative check (confirm_attempts >= 0),
          constraint bookings_not_self_rescheduled check (rescheduled_to_id <> id and rescheduled_from_id <> id)
        )`);
      // one live booking per slot, whatever the concurrency (the double-booking bug, impossible by construction)
      await knex.raw(`create unique index bookings_one_live_per_slot on bookings (slot_id) where status in ('hold', 'confirming', 'confirmed')`);
      await knex.raw('create index bookings_student_idx on bookings (student_id, created_at desc, id desc)');
      await knex.raw('create index bookings_teacher_idx on bookings (teacher_id, created_at desc, id desc)');
      await knex.raw(`create index bookings_holds_by_expiry_idx on bookings (hold_expires_at) where status = 'hold'`);
      await knex.raw(`create index bookings_confirming_idx on bookings (confirm_requested_at) where status = 'confirming'`);

      // Idempotency-Key of POST /booking/hold: the first successful response, written in the hold's transaction
      await knex.raw(`
        create table idempotency_keys (
          user_id uuid not null,
          key text not null,
          request_hash text not null,
          response_status integer not null,
          response_body jsonb not null,
          created_at timestamptz not null,
          primary key (user_id, key)
        )`);
      await knex.raw('create index idempotency_keys_created_idx on idempotency_keys (created_at)');
    },
  },
  '0002_teacher_profiles': {
    async up(knex) {
      // read model of identity.teacher.profile_updated: the newest profile per teacher (by the event's occurredAt)
      await knex.raw(`
        create table teacher_profiles (
          teacher_id uuid primary key,
          display_name text not null,
          timezone text not null,
          profile_updated_at timestamptz not null,
          received_at timestamptz not null
        )`);
    },
  },
};
