import { adminDb, createServiceDb, ensureServiceSchema } from '../src';
import { testInfra } from '@guitaronline/testing';

describe('service roles and schemas', () => {
  test("when one service's role reads another service's schema, Postgres refuses", async () => {
    const { databaseUrl } = testInfra();
    const admin = adminDb(databaseUrl);
    await ensureServiceSchema(admin, 'isotest_a');
    await ensureServiceSchema(admin, 'isotest_b');
    const a = createServiceDb({ databaseUrl, schema: 'isotest_a' });
    const b = createServiceDb({ databaseUrl, schema: 'isotest_b' });
    try {
      await b.schema.dropTableIfExists('secrets');
      await b.schema.createTable('secrets', (t) => t.text('value'));
      await b('secrets').insert({ value: 'b only' });
      // its own table, unqualified, through its search_path
      expect(await b('secrets').pluck('value')).toEqual(['b only']);
      await expect(a.raw('select * from isotest_b.secrets')).rejects.toThrow(/permission denied/);
      await expect(a.raw('create table isotest_b.intruder (id int)')).rejects.toThrow(/permission denied/);
    } finally {
      await a.destroy();
      await b.destroy();
      await admin.destroy();
    }
  });

  test('provisioning the same service twice changes nothing', async () => {
    const admin = adminDb(testInfra().databaseUrl);
    try {
      await ensureServiceSchema(admin, 'isotest_a');
      await ensureServiceSchema(admin, 'isotest_a');
      const owner = await admin.raw("select nspowner::regrole::text as owner from pg_namespace where nspname = 'isotest_a'");
      expect(owner.rows[0].owner).toBe('isotest_a_svc');
    } finally {
      await admin.destroy();
    }
  });
});
