import { Router, type RequestHandler } from 'express';
import { outboxBacklog } from '@guitaronline/messaging';
import type { Auth } from '@guitaronline/platform';
import type { Db } from '../data/db';

/** /internal: figures the admin service aggregates into its operations overview (admin token). */
export function internalRoutes(db: Db, auth: Auth): Router {
  const router = Router();
  router.get('/ops', auth.requireAuth as RequestHandler, auth.requireRole('admin'), async (_req, res) => {
    res.json({ outbox: await outboxBacklog(db) });
  });
  return router;
}
