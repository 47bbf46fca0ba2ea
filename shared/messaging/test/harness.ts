import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import knexFactory, { type Knex } from 'knex';
import pino from 'pino';
import { testInfra } from '@guitaronline/testing';
import { createMessagingTables } from '../src';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A throwaway schema with the outbox/inbox tables and an effects table, plus a unique exchange. */
export async function messagingFixture() {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
  const schema = `msgtest_${suffix}`;
  const { databaseUrl, amqpUrl } = testInfra();
  const admin = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create schema ${schema}`);
  await admin.destroy();
  const knex: Knex = knexFactory({ client: 'pg', connection: databaseUrl, searchPath: [schema], pool: { min: 0, max: 12 } });
  await createMessagingTables(knex);
  await knex.schema.createTable('effects', (t) => {
    t.increments('id');
    t.uuid('event_id').notNullable();
    t.text('note');
  });
  return {
    schema,
    knex,
    amqpUrl,
    exchange: `test.events.${suffix}`,
    service: `test-${suffix}`,
    async cleanup() {
      await knex.raw(`drop schema ${schema} cascade`);
      await knex.destroy();
      // the exchange goes too (its queues are the tests' own, deleted or exclusive)
      const connection = await amqp.connect(amqpUrl);
      try {
        const channel = await connection.createChannel();
        await channel.deleteExchange(`test.events.${suffix}`);
      } finally {
        await connection.close().catch(() => undefined);
      }
    },
  };
}
