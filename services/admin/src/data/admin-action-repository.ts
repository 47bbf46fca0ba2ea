import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { adminHttp } from '@guitaronline/contracts';
import { errors } from '@guitaronline/platform';

type Db = Knex | Knex.Transaction;
type AdminAction = adminHttp.AdminAction;

interface ActionRow {
  id: string;
  admin_id: string;
  action: AdminAction['action'];
  target: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
  at: Date;
  cursor_at?: string;
}

function toAction(row: ActionRow): AdminAction {
  return {
    id: row.id,
    adminId: row.admin_id,
    action: row.action,
    target: row.target,
    requestId: row.request_id,
    details: row.details,
    at: row.at.toISOString(),
  };
}

export interface NewAdminAction {
  adminId: string;
  action: AdminAction['action'];
  target?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown> | null;
  at?: Date;
}

export async function recordAdminAction(db: Db, input: NewAdminAction): Promise<AdminAction> {
  const [row] = (await db('admin_actions')
    .insert({
      id: randomUUID(),
      admin_id: input.adminId,
      action: input.action,
      target: input.target ?? null,
      request_id: input.requestId ?? null,
      details: input.details ?? null,
      at: input.at ?? new Date(),
    })
    .returning('*')) as ActionRow[];
  return toAction(row);
}

// opaque cursor: base64url of "<at in epoch microseconds>|<id>" (exact: a JS Date would drop the microseconds)
function encodeCursor(row: ActionRow): string {
  return Buffer.from(`${row.cursor_at}|${row.id}`, 'utf8').toString('base64url');
}

const MICROS = /^\d{1,16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeCursor(cursor: string): { at: string; id: string } {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !MICROS.test(at) || !UUID.test(id)) {
    throw errors.validation([{ path: 'query.cursor', message: 'not a cursor this list gave out' }]);
  }
  return { at, id };
}

/** Admin actions, newest first, keyset-paginated on (at, id). */
export async function listAdminActions(
  db: Db,
  page: { limit: number; cursor?: string; action?: AdminAction['action']; adminId?: string },
): Promise<{ items: AdminAction[]; nextCursor: string | null }> {
  const query = db('admin_actions')
    .select('*', db.raw('(extract(epoch from at) * 1000000)::bigint::text as cursor_at'))
    .orderBy([
      { column: 'at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(page.limit + 1);
  if (page.action) query.where({ action: page.action });
  if (page.adminId) query.where({ admin_id: page.adminId });
  if (page.cursor) {
    const { at, id } = decodeCursor(page.cursor);
    query.whereRaw("(at, id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::uuid)", [at, id]);
  }
  const rows = (await query) as ActionRow[];
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  return { items: items.map(toAction), nextCursor: more ? encodeCursor(items[items.length - 1]) : null };
}
