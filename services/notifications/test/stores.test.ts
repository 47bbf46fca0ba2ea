import { randomUUID } from 'node:crypto';
import type { EventType } from '@guitaronline/contracts';
import { createLogger } from '@guitaronline/platform';
import { eventually } from '@guitaronline/testing';
import { PgDeliveryStore } from '../src/data/delivery-repository';
import { routedWebhookStore, type Router } from '../src/messaging/event-routing';
import { freshDatabase, type TestDatabase } from './harness';

jest.setTimeout(30_000);

let database: TestDatabase;
beforeAll(async () => {
  database = await freshDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(() => database.reset());

/** n due e-mail deliveries, as the consumer makes them. */
async function dueEmails(n: number, now: Date) {
  const eventId = randomUUID();
  const rows = Array.from({ length: n }, (_, i) => ({ id: randomUUID(), userId: randomUUID(), email: `user${i}@example.test` }));
  await database.knex('notifications').insert(
    rows.map((r) => ({ id: r.id, event_id: eventId, event_type: 'lesson.created', user_id: r.userId, channel: 'email', email: r.email, subject: 's', body: 'b', created_at: now })),
  );
  await database.knex('deliveries').insert(
    rows.map((r) => ({
      id: randomUUID(),
      channel: 'email',
      notification_id: r.id,
      event_id: eventId,
      event_type: 'lesson.created',
      occurred_at: now,
      correlation_id: 'corr-1',
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    })),
  );
}

describe('delivery store', () => {
  test('when sends end while a mark is being written, then they are marked together in one statement; a lost claim answers false and changes nothing', async () => {
    const now = new Date();
    await dueEmails(8, now);
    const store = new PgDeliveryStore(database.knex);
    const claimed = await store.claimDue({ now, leaseUntil: new Date(now.getTime() + 60_000), limit: 10, paused: { email: false, subscriptions: [] } });
    expect(claimed).toHaveLength(8);
    // one claim lost meanwhile (its lease ran out and another worker claimed the row)
    const lost = claimed[7]!;
    await database.knex('deliveries').where({ id: lost.id }).update({ claim_token: randomUUID() });

    const statements: string[] = [];
    const record = (q: { sql: string }) => statements.push(q.sql);
    database.knex.on('query', record);
    const answers = await Promise.all(claimed.map((d) => store.markSent(d, now)));
    database.knex.off('query', record);

    expect(answers).toEqual([true, true, true, true, true, true, true, false]);
    // the first mark goes alone, the seven that ended while it was written go together: two
    // statements in all, each its own atomic write
    expect(statements).toHaveLength(2);
    expect(statements.every((sql) => /^with done as/.test(sql))).toBe(true);
    const rows = await database.knex('deliveries').select('id', 'status', 'attempts', 'claim_token');
    for (const d of claimed.slice(0, 7)) expect(rows.find((r) => r.id === d.id)).toEqual({ id: d.id, status: 'sent', attempts: 1, claim_token: null });
    expect(rows.find((r) => r.id === lost.id)).toMatchObject({ status: 'sending', attempts: 0 });
    const attempts = await database.knex('delivery_attempts').select('delivery_id', 'attempt', 'outcome');
    expect(attempts.map((a) => a.delivery_id).sort()).toEqual(
      claimed
        .slice(0, 7)
        .map((d) => d.id)
        .sort(),
    );
    expect(attempts.every((a) => a.attempt === 1 && a.outcome === 'sent')).toBe(true);
    const events = await database.knex('outbox').select('envelope');
    expect(events).toHaveLength(7);
    for (const { envelope } of events) {
      expect(envelope).toMatchObject({ type: 'notification.sent', correlationId: 'corr-1', payload: { channel: 'email', attempts: 1 } });
    }
    expect(events.map((e) => e.envelope.payload.notificationId)).not.toContain(lost.channel === 'email' ? lost.notificationId : undefined);
  });

  test('with a mark linger, sends that end apart within it are marked by one statement; a full batch is written at once', async () => {
    const now = new Date();
    await dueEmails(6, now);
    const store = new PgDeliveryStore(database.knex, { markLingerMs: 3_000, markBatch: 4 }); // a linger long enough that a loaded CI box cannot pass for it
    const claimed = await store.claimDue({ now, leaseUntil: new Date(now.getTime() + 60_000), limit: 10, paused: { email: false, subscriptions: [] } });
    expect(claimed).toHaveLength(6);
    const statements: string[] = [];
    const record = (q: { sql: string }) => statements.push(q.sql);
    database.knex.on('query', record);
    // two sends end 30 ms apart: one statement for both
    const first = store.markSent(claimed[0]!, now);
    await new Promise((r) => setTimeout(r, 30));
    await expect(Promise.all([first, store.markSent(claimed[1]!, now)])).resolves.toEqual([true, true]);
    expect(statements).toHaveLength(1);
    // four (the batch size) at once do not linger
    const started = Date.now();
    await expect(Promise.all(claimed.slice(2).map((d) => store.markSent(d, now)))).resolves.toEqual([true, true, true, true]);
    expect(Date.now() - started).toBeLessThan(2_000); // well under the linger
    database.knex.off('query', record);
    expect(statements).toHaveLength(2);
    expect(await database.knex('deliveries').where({ status: 'sent' }).count({ n: '*' })).toEqual([{ n: '6' }]);
    expect(await database.knex('outbox').count({ n: '*' })).toEqual([{ n: '6' }]);
  });
});

describe('webhook store with event routing', () => {
  test('when a delete fails to commit after unbinding its types, then the types are bound again and the subscription stays', async () => {
    const calls: string[] = [];
    const router: Router = {
      bind: async (types: readonly EventType[]) => {
        calls.push(`bind ${types.join(',')}`);
      },
      unbind: async (types: readonly EventType[]) => {
        calls.push(`unbind ${types.join(',')}`);
        // the delete's connection dies while its transaction is open: its commit cannot happen
        await database.knex.raw(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where datname = current_database() and state = 'idle in transaction' and pid <> pg_backend_pid()`,
        );
      },
    };
    const store = routedWebhookStore(database.knex, router, createLogger('event-routing-test', { level: 'silent' }));
    const sub = await store.insert({ url: 'https://example.test/hook', events: ['billing.lesson.debited'], secret: 's', createdBy: '00000000-0000-4000-8000-000000000001' }, new Date());

    await expect(store.deleteAndCancel(sub.id, new Date())).rejects.toThrow();
    expect(calls).toEqual(['bind billing.lesson.debited', 'unbind billing.lesson.debited', 'bind billing.lesson.debited']);
    // (the pool may hand out the killed connection once more: read until a live one answers)
    const row = await eventually(() => database.knex('webhook_subscriptions').where({ id: sub.id }).first().catch(() => undefined));
    expect(row.deleted_at).toBeNull();
  });
});
