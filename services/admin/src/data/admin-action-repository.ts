import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { adminHttp } from '@guitaronline/contracts';
import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';

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

/** Admin actions, newest first, keyset-paginated on (at, id). */
export async function listAdminActions(
  db: Db,
  page: PageRequest & { action?: AdminAction['action']; adminId?: string },
): Promise<Page<AdminAction>> {
  const query = db('admin_actions').select('*');
  if (page.action) query.where({ action: page.action });
  if (page.adminId) query.where({ admin_id: page.adminId });
  const { items, nextCursor } = await keysetPage<ActionRow>(query, page, { at: 'at' });
  return { items: items.map(toAction), nextCursor };
}
