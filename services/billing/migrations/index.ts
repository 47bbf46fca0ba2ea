import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);

      await knex.schema.createTable('packages', (t) => {
        t.uuid('id').primary();
        t.uuid('student_id').notNullable();
        t.integer('lessons_total').notNullable();
        t.integer('lessons_left').notNullable();
        t.text('status').notNullable();
        t.timestamp('expires_at', { useTz: true }).notNullable();
        t.integer('price_cents').notNullable();
        t.specificType('currency', 'char(3)').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.timestamp('updated_at', { useTz: true }).notNullable();
      });
      // the balance can never go below zero or above what was bought, whatever the code does
      await knex.raw('alter table packages add constraint packages_lessons_left_nonnegative check (lessons_left >= 0)');
      await knex.raw('alter table packages add constraint packages_lessons_left_max check (lessons_left <= lessons_total)');
      await knex.raw('alter table packages add constraint packages_lessons_total_positive check (lessons_total > 0)');
      await knex.raw(`alter table packages add constraint packages_status_check check (status in ('active', 'depleted', 'expired', 'canceled'))`);
      await knex.raw(`alter table packages add constraint packages_depleted_check check (status <> 'depleted' or lessons_left = 0)`);
      await knex.raw('alter table packages add constraint packages_price_check check (price_cents >= 0)');
      await knex.raw('create index packages_student_idx on packages (student_id, created_at desc, id desc)');
      await knex.raw(`create index packages_student_active_idx on packages (student_id, expires_at) where status = 'active'`);
      await knex.raw(`create index packages_overdue_idx on packages (expires_at) where status = 'active'`);
      await knex.raw('create index packages_list_idx on packages (created_at desc, id desc)');

      // a booking is debited at most once and credited at most once; a credit needs its debit
      await knex.schema.createTable('package_ledger', (t) => {
        t.bigIncrements('id');
        t.uuid('booking_id').notNullable();
        t.text('kind').notNullable();
        t.uuid('package_id').notNullable().references('id').inTable('packages');
        t.uuid('student_id').notNullable();
        t.integer('lessons_left_after').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.unique(['booking_id', 'kind'], { indexName: 'package_ledger_booking_kind_key' });
      });
      await knex.raw(`alter table package_ledger add constraint package_ledger_kind_check check (kind in ('debit', 'credit'))`);
      await knex.raw(`alter table package_ledger add column debit_kind text generated always as ('debit') stored`);
      await knex.raw(
        `alter table package_ledger add constraint package_ledger_credit_needs_debit foreign key (booking_id, debit_kind) references package_ledger (booking_id, kind)`,
      );
      await knex.raw('create index package_ledger_package_idx on package_ledger (package_id)');

      // the answer given to a booking that could not be debited, so a re-request gets the same answer
      await knex.schema.createTable('debit_rejections', (t) => {
        t.uuid('booking_id').primary();
        t.uuid('student_id').notNullable();
        t.text('reason').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
      });
      await knex.raw(
        `alter table debit_rejections add constraint debit_rejections_reason_check check (reason in ('no_active_package', 'package_expired', 'insufficient_lessons'))`,
      );

      // bookings billing has seen canceled or rejected (a cancel may arrive before its debit request)
      await knex.schema.createTable('canceled_bookings', (t) => {
        t.uuid('booking_id').primary();
        t.text('source').notNullable();
        t.boolean('refundable').notNullable();
        t.boolean('was_confirmed').notNullable();
        t.timestamp('received_at', { useTz: true }).notNullable();
      });

      await knex.schema.createTable('payments', (t) => {
        t.uuid('id').primary();
        t.uuid('package_id').notNullable().references('id').inTable('packages');
        t.uuid('student_id').notNullable();
        t.integer('amount_cents').notNullable();
        t.specificType('currency', 'char(3)').notNullable();
        t.text('status').notNullable();
        t.timestamp('paid_at', { useTz: true });
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.timestamp('updated_at', { useTz: true }).notNullable();
      });
      await knex.raw(`alter table payments add constraint payments_status_check check (status in ('pending', 'succeeded', 'failed', 'refunded'))`);
      await knex.raw('alter table payments add constraint payments_amount_check check (amount_cents >= 0)');
      // a succeeded or refunded payment was paid at some moment
      await knex.raw(`alter table payments add constraint payments_paid_at_check check (status not in ('succeeded', 'refunded') or paid_at is not null)`);
      await knex.raw('create index payments_package_idx on payments (package_id, created_at desc, id desc)');
      await knex.raw('create index payments_student_idx on payments (student_id, created_at desc, id desc)');
      await knex.raw('create index payments_list_idx on payments (created_at desc, id desc)');

      // Idempotency-Key of POST /payments, per caller: the first response is replayed
      await knex.schema.createTable('idempotency_keys', (t) => {
        t.uuid('actor_id').notNullable();
        t.text('key').notNullable();
        t.text('request_hash').notNullable();
        t.integer('response_status').notNullable();
        t.jsonb('response_body').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.primary(['actor_id', 'key']);
        t.index(['created_at']);
      });

      await knex.schema.createTable('audit_log', (t) => {
        t.bigIncrements('id');
        t.text('actor_id').notNullable();
        t.text('actor_role').notNullable();
        t.text('action').notNullable();
        t.text('target').notNullable();
        t.text('request_id');
        t.text('correlation_id');
        t.jsonb('before');
        t.jsonb('after');
        t.timestamp('at', { useTz: true }).notNullable();
      });
      await knex.raw('create index audit_log_target_idx on audit_log (target, at)');
    },
  },
  '0002_seen_bookings': {
    async up(knex) {
      // Every booking billing has had an event of, one row each, written first by every handler
      // of a booking's events: the debit fast path (no lock) claims it before it debits, the
      // locked handlers insert it before they read the booking's state, so its primary key
      // orders a fast debit against a cancel in flight (package-repository.ts, ledger-repository.ts).
      await knex.schema.createTable('seen_bookings', (t) => {
        t.uuid('booking_id').primary();
        t.timestamp('seen_at', { useTz: true }).notNullable();
      });
      await knex.raw(
        `insert into seen_bookings (booking_id, seen_at)
         select booking_id, min(at) from (
           select booking_id, created_at as at from package_ledger
           union all select booking_id, created_at from debit_rejections
           union all select booking_id, received_at from canceled_bookings
         ) known group by booking_id`,
      );
    },
  },
};
