import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { testInfra } from '@guitaronline/testing';
import { AppError, adminDb, decodeCursor, encodeCursor, keysetPage, type PageKey } from '../src';

const ID = '3f1d0c8e-8a64-4a57-9f7e-0d3c1f5b2a11';
const raw = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');

function expectCursorRefused(cursor: string) {
  try {
    decodeCursor(cursor);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect({ code: (err as AppError).code, status: (err as AppError).status, errors: (err as AppError).details?.errors?.map((e) => e.path) }).toEqual({
      code: 'validation_failed',
      status: 400,
      errors: ['query.cursor'],
    });
    return;
  }
  throw new Error(`cursor ${cursor} was accepted`);
}

describe('page cursors', () => {
  test('when a key is encoded, then it decodes to the same key, microseconds included, in URL-safe characters', () => {
    const key: PageKey = { at: '2024-02-29T23:59:59.123456Z', id: ID };
    const cursor = encodeCursor(key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(key);
    expect(decodeCursor(encodeCursor({ at: '1970-01-01T00:00:00Z', id: ID }))).toEqual({ at: '1970-01-01T00:00:00Z', id: ID });
  });

  test.each([
    ['garbage', 'nonsense'],
    ['not base64url', 'a+b/c='],
    ['empty JSON object', raw({})],
    ['a JSON array', raw(['2024-01-01T00:00:00.000Z', ID])],
    ['an extra field', raw({ at: '2024-01-01T00:00:00.000Z', id: ID, role: 'admin' })],
    ['SQL in the instant', raw({ at: "2020-01-01'; drop table users; --", id: ID })],
    ['30 February', raw({ at: '2023-02-30T00:00:00.000Z', id: ID })],
    ['hour 25', raw({ at: '2024-01-01T25:00:00.000Z', id: ID })],
    ['a non-UTC offset', raw({ at: '2024-01-01T00:00:00.000+02:00', id: ID })],
    ['before 1970', raw({ at: '1969-12-31T23:59:59.000Z', id: ID })],
    ['more than microseconds', raw({ at: '2024-01-01T00:00:00.1234567Z', id: ID })],
    ['an id that is no uuid', raw({ at: '2024-01-01T00:00:00.000Z', id: '1 or 1=1' })],
    ['a number as id', raw({ at: '2024-01-01T00:00:00.000Z', id: 7 })],
    ['JSON null', raw('null')],
    ['far too long', 'a'.repeat(600)],
  ])('when the cursor is %s, then it is refused as a 400 on query.cursor', (_name, cursor) => {
    expectCursorRefused(cursor);
  });
});

describe('keyset pages', () => {
  const schema = `pagetest_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let db: Knex;
  // rows that differ only in microseconds, and rows that tie on the instant (ordered by id then)
  const rows = [
    { id: '00000000-0000-4000-8000-000000000001', created_at: '2024-05-01T10:00:00.000001Z', start_at: '2024-06-01T10:00:00Z' },
    { id: '00000000-0000-4000-8000-000000000002', created_at: '2024-05-01T10:00:00.000002Z', start_at: '2024-06-01T09:00:00Z' },
    { id: '00000000-0000-4000-8000-000000000003', created_at: '2024-05-01T10:00:00.000002Z', start_at: '2024-06-01T09:00:00Z' },
    { id: '00000000-0000-4000-8000-000000000004', created_at: '2024-05-01T10:00:00.000002Z', start_at: '2024-06-01T08:00:00Z' },
    { id: '00000000-0000-4000-8000-000000000005', created_at: '2024-05-02T00:00:00Z', start_at: '2024-06-01T11:00:00Z' },
  ];

  beforeAll(async () => {
    db = adminDb(testInfra().databaseUrl);
    await db.raw(`create schema ${schema}`);
    await db.raw(`create table ${schema}.items (id uuid primary key, created_at timestamptz not null, start_at timestamptz not null, label text)`);
    await db(`${schema}.items`).insert(rows.map((r) => ({ ...r, label: `row ${r.id.slice(-1)}` })));
  });

  afterAll(async () => {
    await db.raw(`drop schema if exists ${schema} cascade`);
    await db.destroy();
  });

  async function walk(query: () => Knex.QueryBuilder, limit: number, order?: Parameters<typeof keysetPage>[2]) {
    const pages: { id: string }[][] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await keysetPage<{ id: string }>(query(), { limit, cursor }, order);
      pages.push(page.items);
      if (!page.nextCursor) return pages;
      cursor = page.nextCursor;
    }
    throw new Error('the pages never ended');
  }

  test('when a list is paged newest first, then every row appears once, in (created_at, id) descending order, and the last page ends it', async () => {
    const pages = await walk(() => db(`${schema}.items`).select('*'), 2);
    expect(pages.map((p) => p.map((r) => r.id.slice(-1)))).toEqual([['5', '4'], ['3', '2'], ['1']]);
  });

  test('when a page is read, then its rows are the selected columns only (the key column stays inside)', async () => {
    const page = await keysetPage<Record<string, unknown>>(db(`${schema}.items`).select('id', 'label'), { limit: 1 });
    expect(page.items).toEqual([{ id: rows[4].id, label: 'row 5' }]);
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  test('when the rows fit the limit exactly, then there is no next page', async () => {
    const page = await keysetPage(db(`${schema}.items`).select('*'), { limit: rows.length });
    expect(page.items).toHaveLength(rows.length);
    expect(page.nextCursor).toBeNull();
  });

  test('when a list is ordered earliest first by another instant on a qualified column, then the pages follow (start_at, id) ascending', async () => {
    const pages = await walk(() => db(`${schema}.items as t`).select('t.*'), 2, { at: 't.start_at', id: 't.id', direction: 'asc' });
    expect(pages.map((p) => p.map((r) => r.id.slice(-1)))).toEqual([['4', '2'], ['3', '1'], ['5']]);
  });

  test('when the query filters, then the filter and the cursor both apply', async () => {
    const pages = await walk(() => db(`${schema}.items`).select('*').whereNot({ id: rows[2].id }), 3);
    expect(pages.map((p) => p.map((r) => r.id.slice(-1)))).toEqual([['5', '4', '2'], ['1']]);
  });

  test('when the cursor is past the oldest row, then the page is empty and the last', async () => {
    const cursor = encodeCursor({ at: '1970-01-01T00:00:00.000000Z', id: randomUUID() });
    expect(await keysetPage(db(`${schema}.items`).select('*'), { limit: 5, cursor })).toEqual({ items: [], nextCursor: null });
  });

  test('when the cursor is bad, then no query runs and the page is a 400 on query.cursor', async () => {
    await expect(keysetPage(db(`${schema}.nope`).select('*'), { limit: 5, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'validation_failed', status: 400 });
  });
});
