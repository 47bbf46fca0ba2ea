import { Router, type RequestHandler } from 'express';
import type { Auth } from '@guitaronline/platform';
import type { BillingDeps } from '../domain/deps';
import { billingOps } from '../domain/ops';

/** /internal: figures the admin service aggregates into its operations overview (admin token). */
export function internalRoutes(deps: BillingDeps, auth: Auth): Router {
  const router = Router();
  router.get('/ops', auth.requireAuth as RequestHandler, auth.requireRole('admin'), async (_req, res) => {
    res.json(await billingOps(deps));
  });
  return router;
}
