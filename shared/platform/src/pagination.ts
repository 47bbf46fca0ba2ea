import type { Knex } from 'knex';
import { errors } from './errors';

/** `?limit=` and the `?cursor=` a previous page gave out. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

/** One page of a list; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Where a row stands in its list: the instant the list is ordered by (UTC ISO-8601, with
 * the microseconds Postgres keeps) and the row's id, which breaks ties.
 */
export interface PageKey {
  at: string;
  id: string;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// an encoded key is under 100 characters; anything much longer was not made here
const MAX_CURSOR_LENGTH = 200;

/** A real UTC instant (no 30 February, no hour 25): Postgres must never be the one to refuse a cursor. */
function isRealInstant(value: string): boolean {
  const m = INSTANT.exec(value);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    y >= 1970 &&
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}

/** The opaque cursor of a key: base64url JSON. */
export function encodeCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify({ at: key.at, id: key.id }), 'utf8').toString('base64url');
}

/** The key inside a cursor this platform gave out; anything else is a 400 on `query.cursor`. */
export function decodeCursor(cursor: string): PageKey {
  if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const { at, id, ...rest } = value as Record<string, unknown>;
        if (Object.keys(rest).length === 0 && typeof at === 'string' && typeof id === 'string' && isRealInstant(at) && UUID.test(id)) return { at, id };
      }
    } catch {
      // not JSON: the validation error below
    }
  }
  throw errors.validation([{ path: 'query.cursor', message: 'not a cursor this list gave out' }]);
}

export interface KeysetOrder {
  /** The timestamptz column the list is ordered by (default `created_at`; may be qualified, e.g. `p.created_at`). */
  at?: string;
  /** The unique column that breaks ties (default `id`). */
  id?: string;
  /** `desc` (the default): newest first; `asc`: earliest first. */
  direction?: 'asc' | 'desc';
}

// the key leaves Postgres as text: a JS Date would drop the microseconds and so skip or repeat rows
const KEY_COLUMN = 'page_key_at';
const KEY_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/**
 * Keyset pagination: restricts `query` to the rows after the cursor's key, orders it by
 * (at, id), fetches `limit + 1` rows (the extra one tells whether a next page exists) and
 * returns the page with the cursor of its last row. `query` must already select its columns
 * (e.g. `.select('*')`): the key is added to them.
 */
export async function keysetPage<Row extends object>(query: Knex.QueryBuilder, page: PageRequest, order: KeysetOrder = {}): Promise<Page<Row>> {
  if (!Number.isInteger(page.limit) || page.limit < 1) throw new Error(`page limit must be a positive integer, got ${page.limit}`);
  const at = order.at ?? 'created_at';
  const id = order.id ?? 'id';
  const direction = order.direction ?? 'desc';
  const idProperty = id.slice(id.lastIndexOf('.') + 1);
  if (page.cursor) {
    const after = decodeCursor(page.cursor);
    query.whereRaw(`(??, ??) ${direction === 'desc' ? '<' : '>'} (?::timestamptz, ?)`, [at, id, after.at, after.id]);
  }
  query.select(query.client.raw(`to_char(?? at time zone 'UTC', '${KEY_FORMAT}') as ${KEY_COLUMN}`, [at]));
  query.orderBy([
    { column: at, order: direction },
    { column: id, order: direction },
  ]);
  const rows = (await query.limit(page.limit + 1)) as (Row & { [KEY_COLUMN]: string })[];
  const items = rows.slice(0, page.limit).map(({ [KEY_COLUMN]: _key, ...row }) => row as unknown as Row);
  const last = rows[page.limit - 1];
  return {
    items,
    nextCursor: rows.length > page.limit ? encodeCursor({ at: last[KEY_COLUMN], id: String((last as Record<string, unknown>)[idProperty]) }) : null,
  };
}
