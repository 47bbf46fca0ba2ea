import type { Knex } from 'knex';
import { errors } from '@guitaronline/platform';

/** Keyset pagination on (created_at, id), newest first, with an opaque base64url cursor. */
export interface PageRequest {
  limit: number;
  cursor?: string;
}

interface Cursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id]), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && UUID.test(value[1])) {
      const createdAt = new Date(value[0]);
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: value[1] };
    }
  } catch {
    // fall through to the validation error
  }
  throw errors.validation([{ path: 'query.cursor', message: 'not a cursor returned by this list' }]);
}

export async function fetchPage<Row extends { created_at: Date; id: string }>(
  query: Knex.QueryBuilder,
  page: PageRequest,
): Promise<{ rows: Row[]; nextCursor: string | null }> {
  if (page.cursor) {
    const cursor = decodeCursor(page.cursor);
    query.whereRaw('(created_at, id) < (?, ?)', [cursor.createdAt, cursor.id]);
  }
  const rows = (await query
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(page.limit + 1)) as Row[];
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { rows: items, nextCursor: rows.length > page.limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null };
}
