import { Router } from 'express';
import type { Knex } from 'knex';
import { outboxBacklog } from '@guitaronline/messaging';
import type { Auth } from '@guitaronline/platform';
import type { bookingHttp } from '@guitaronline/contracts';
import { bookingHealth } from '../domain/booking-queries';
import type { BookingDeps } from '../domain/deps';

/** GET /internal/ops (admin token): what the admin service's operations overview shows for booking. */
export function opsRoutes(deps: BookingDeps, knex: Knex, auth: Auth): Router {
  const router = Router();
  router.get('/internal/ops', auth.requireAuth, auth.requireRole('admin'), async (_req, res) => {
    const [outbox, health] = await Promise.all([outboxBacklog(knex), bookingHealth(deps)]);
    const body: bookingHttp.BookingOps = { outbox, ...health };
    res.json(body);
  });
  return router;
}
