import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);

      // one lesson per confirmed booking, whatever the delivery order or count
      await knex.schema.createTable('lessons', (t) => {
        t.uuid('id').primary();
        t.uuid('booking_id').notNullable().unique();
        t.uuid('student_id').notNullable();
        t.uuid('teacher_id').notNullable();
        t.timestamp('start_at', { useTz: true }).notNullable();
        t.timestamp('end_at', { useTz: true }).notNullable();
        t.text('status').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.timestamp('updated_at', { useTz: true }).notNullable();
        t.timestamp('completed_at', { useTz: true });
        t.timestamp('canceled_at', { useTz: true });
      });
      await knex.raw(`alter table lessons add constraint lessons_status_check check (status in ('scheduled', 'canceled', 'completed'))`);
      await knex.raw(`alter table lessons add constraint lessons_time_check check (end_at > start_at)`);
      await knex.raw(`alter table lessons add constraint lessons_completed_at_check check ((status = 'completed') = (completed_at is not null))`);
      await knex.raw('create index lessons_student_idx on lessons (student_id, created_at desc, id desc)');
      await knex.raw('create index lessons_teacher_idx on lessons (teacher_id, created_at desc, id desc)');

      // tombstones: a cancel seen before (or after) its booking.confirmed, so no scheduled lesson ever exists for it
      await knex.schema.createTable('canceled_bookings', (t) => {
        t.uuid('booking_id').primary();
        t.text('canceled_by').notNullable();
        t.timestamp('received_at', { useTz: true }).notNullable();
      });
    },
  },
  '0002_booking_fates': {
    async up(knex) {
      // What lessons knows of each booking, one row per booking written by its confirmation
      // (`scheduled`: its lesson was made) and by its cancel (`canceled`) alike: the primary key
      // orders a confirmation that takes no lock (the consumer's fast path) after a cancel in
      // flight, or a cancel after such a confirmation (lesson-repository.ts). The tombstones of
      // `canceled_bookings` are copied; that table stays, read and written alongside, while the
      // previous release may still run (deploy/README.md "Releases"), and goes one release later.
      await knex.schema.createTable('booking_fates', (t) => {
        t.uuid('booking_id').primary();
        t.text('fate').notNullable();
        t.text('canceled_by');
        t.timestamp('updated_at', { useTz: true }).notNullable();
      });
      await knex.raw(`alter table booking_fates add constraint booking_fates_fate_check check (fate in ('scheduled', 'canceled'))`);
      await knex.raw(`alter table booking_fates add constraint booking_fates_canceled_by_check check ((fate = 'canceled') = (canceled_by is not null))`);
      await knex.raw(`insert into booking_fates (booking_id, fate, canceled_by, updated_at) select booking_id, 'canceled', canceled_by, received_at from canceled_bookings`);
    },
  },
};
