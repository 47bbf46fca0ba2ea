import { Router } from 'express';
import { bookingHttp } from '@guitaronline/contracts';
import { parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import { listSlots, publishSlot, withdrawSlot } from '../domain/slots';
import type { BookingDeps } from '../domain/deps';

/** /api/v1/scheduling: teachers publish and withdraw slots; every user browses them. */
export function schedulingRoutes(deps: BookingDeps, auth: Auth): Router {
  const router = Router();
  const { requireAuth, requireRole } = auth;

  router.post('/slots', requireAuth, requireRole('teacher'), async (req, res) => {
    const body = parseBody(req, bookingHttp.createSlotBody);
    const slot = await publishSlot(deps, principalOf(req), { startAt: new Date(body.startAt), endAt: new Date(body.endAt) });
    res.status(201).json(slot);
  });

  router.get('/slots', requireAuth, async (req, res) => {
    const query = parseQuery(req, bookingHttp.slotsQuery);
    res.json(
      await listSlots(deps, {
        ...query,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
      }),
    );
  });

  router.delete('/slots/:slotId', requireAuth, requireRole('teacher'), async (req, res) => {
    const { slotId } = parseParams(req, bookingHttp.slotIdParams);
    await withdrawSlot(deps, principalOf(req), slotId);
    res.status(204).end();
  });

  return router;
}
