import { Router } from 'express';
import type { Knex } from 'knex';
import { outboxBacklog } from '@guitaronline/messaging';
import type { Auth } from '@guitaronline/platform';
import type { adminHttp } from '@guitaronline/contracts';

/** GET /internal/ops (admin token): identity's part of the admin operations overview — its outbox backlog. */
export function opsRoutes(db: Knex, auth: Auth): Router {
  const router = Router();
  router.get('/internal/ops', auth.requireAuth, auth.requireRole('admin'), async (_req, res) => {
    const body: adminHttp.InternalOps = { outbox: await outboxBacklog(db) };
    res.json(body);
  });
  return router;
}
