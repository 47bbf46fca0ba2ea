import { adminDb, createMetricsRegistry, createServiceDb, ensureServiceSchema, MAX_PREPARED_PARAMETERS, registerPreparedStatementMetrics, StatementNames, unprepared, type Knex } from '../src';
import { testInfra } from '@guitaronline/testing';

describe('StatementNames', () => {
  test('a text is named the second time it is seen, and keeps that name', () => {
    const names = new StatementNames(10);
    expect(names.nameOf('select $1')).toBeUndefined();
    const name = names.nameOf('select $1');
    expect(name).toBeDefined();
    expect(names.nameOf('select $1')).toBe(name);
    names.nameOf('select $2');
    expect(names.nameOf('select $2')).not.toBe(name);
  });

  test('no more than the limit of texts are named; the named ones keep their names', () => {
    const names = new StatementNames(2);
    for (const sql of ['a', 'a', 'b', 'b', 'c', 'c', 'c']) names.nameOf(sql);
    expect(names.size).toBe(2);
    expect(names.overLimit).toBe(2); // 'c' would have had a name at its second and third run
    expect(names.nameOf('c')).toBeUndefined();
    expect(names.nameOf('a')).toBeDefined();
  });

  test('the memory of once-seen texts is bounded', () => {
    const names = new StatementNames(10, 3);
    for (const sql of ['a', 'b', 'c', 'd']) names.nameOf(sql); // 'd' starts the memory over
    expect(names.nameOf('a')).toBeUndefined();
    expect(names.nameOf('d')).toBeDefined();
  });
});

describe('prepared statements on a service connection', () => {
  const SCHEMA = 'preptest';
  let admin: Knex;

  beforeAll(async () => {
    admin = adminDb(testInfra().databaseUrl);
    await ensureServiceSchema(admin, SCHEMA);
    await admin.raw(`drop table if exists ${SCHEMA}.items`);
    await admin.raw(`create table ${SCHEMA}.items (id int primary key, label text not null)`);
    await admin.raw(`alter table ${SCHEMA}.items owner to ${SCHEMA}_svc`);
  });
  afterAll(() => admin.destroy());

  /** The statements the pool's one connection has prepared. */
  const prepared = async (db: Knex) => (await db.raw('select statement from pg_prepared_statements')).rows.map((r: { statement: string }) => r.statement);

  test('a repeated statement is prepared once on the connection, and answers as before', async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 } });
    try {
      await db('items').insert({ id: 1, label: 'one' }).onConflict('id').merge();
      for (let i = 0; i < 3; i += 1) expect(await db('items').where({ id: 1 }).first('label')).toEqual({ label: 'one' });
      const statements = await prepared(db);
      expect(statements.filter((s: string) => s.includes('select "label" from "items"'))).toHaveLength(1);
    } finally {
      await db.destroy();
    }
  });

  test('a statement marked unprepared stays unnamed however often it runs; the others are still prepared', async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 } });
    try {
      for (let i = 0; i < 3; i += 1) {
        expect((await unprepared(db.raw('select label from items where id = any(?::int[])', [[1]]))).rows).toEqual([{ label: 'one' }]);
        expect(await unprepared(db('items').where({ id: 1 }).select('id'))).toEqual([{ id: 1 }]);
        await db('items').where({ id: 1 }).select('label');
      }
      expect(await prepared(db)).toEqual(['select "label" from "items" where "id" = $1']);
    } finally {
      await db.destroy();
    }
  });

  test("the budget is in the service's metrics", async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 }, preparedStatements: 1 });
    const registry = createMetricsRegistry('preptest');
    registerPreparedStatementMetrics(db, registry);
    try {
      for (let i = 0; i < 3; i += 1) {
        await db('items').where({ id: 1 }).first('label');
        await db('items').where({ id: 1 }).first('id');
      }
      const text = await registry.metrics();
      expect(text).toMatch(/^db_prepared_statement_texts\{service="preptest"\} 1$/m);
      expect(text).toMatch(/^db_prepared_statement_texts_limit\{service="preptest"\} 1$/m);
      expect(text).toMatch(/^db_statements_unprepared_over_limit_total\{service="preptest"\} 2$/m);
    } finally {
      await db.destroy();
    }
  });

  test('a statement with more parameters than MAX_PREPARED_PARAMETERS (a batch) stays unnamed', async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 } });
    try {
      const many = Array.from({ length: MAX_PREPARED_PARAMETERS + 1 }, (_, i) => i + 1);
      for (let i = 0; i < 3; i += 1) {
        await db('items').whereIn('id', many).select('id');
        await db('items').whereIn('id', many.slice(0, MAX_PREPARED_PARAMETERS - 1)).select('id');
      }
      const statements = await prepared(db);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toContain(`$${MAX_PREPARED_PARAMETERS - 1})`);
    } finally {
      await db.destroy();
    }
  });

  test('with a limit of 0 nothing is prepared', async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 }, preparedStatements: 0 });
    try {
      for (let i = 0; i < 3; i += 1) await db('items').where({ id: 1 }).first('label');
      expect(await prepared(db)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  test('a failed prepared statement rolls back its transaction and the statement works afterwards', async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 } });
    try {
      const insert = (trx: Knex | Knex.Transaction, id: number) => trx('items').insert({ id, label: `n${id}` });
      await db('items').where('id', '>=', 10).delete();
      await insert(db, 10);
      await insert(db, 11); // prepared from here on
      await expect(
        db.transaction(async (trx) => {
          await insert(trx, 12);
          await insert(trx, 10); // duplicate key
        }),
      ).rejects.toThrow(/duplicate key/);
      expect(await db('items').where('id', '>=', 10).orderBy('id').pluck('id')).toEqual([10, 11]);
      await insert(db, 12);
      expect(await db('items').where('id', '>=', 10).orderBy('id').pluck('id')).toEqual([10, 11, 12]);
    } finally {
      await db.destroy();
    }
  });

  test("after a migration changes a table's columns, a statement on its own answers at once and one in a transaction fails once; fresh connections prepare them anew", async () => {
    const db = createServiceDb({ databaseUrl: testInfra().databaseUrl, schema: SCHEMA, pool: { min: 0, max: 1 } });
    try {
      const read = (q: Knex | Knex.Transaction) => q('items').where({ id: 1 }).first();
      const inTransaction = () => db.transaction((trx) => read(trx));
      await read(db);
      await read(db); // prepared, with the columns of today
      await inTransaction();
      await inTransaction();
      const before = (await db.raw('select pg_backend_pid() as pid')).rows[0].pid;
      await admin.raw(`alter table ${SCHEMA}.items add column note text`);
      expect(await read(db)).toEqual({ id: 1, label: 'one', note: null });
      const after = (await db.raw('select pg_backend_pid() as pid')).rows[0].pid;
      expect(after).not.toBe(before); // the connection that held the stale statement was retired

      await read(db);
      await read(db); // prepared again, on the new connection
      await admin.raw(`alter table ${SCHEMA}.items drop column note`);
      await expect(inTransaction()).rejects.toThrow(/cached plan must not change result type/);
      expect(await inTransaction()).toEqual({ id: 1, label: 'one' });
    } finally {
      await admin.raw(`alter table ${SCHEMA}.items drop column if exists note`);
      await db.destroy();
    }
  });
});
