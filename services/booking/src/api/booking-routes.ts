import { Router } from 'express';
import { bookingHttp } from '@guitaronline/contracts';
import { parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import { bookingJson } from '../domain/booking';
import { awaitSettled, requestConfirmation } from '../domain/confirm-booking';
import { cancelBooking } from '../domain/cancel-booking';
import { expireRunOutHolds } from '../domain/expire-holds';
import { holdSlot } from '../domain/hold-slot';
import { listMyBookings, viewBooking } from '../domain/booking-queries';
import { rescheduleBooking } from '../domain/reschedule-booking';
import type { BookingDeps } from '../domain/deps';
import { idempotencyKeyOf, preferWaitSeconds, requestHash } from './http-helpers';

/** /api/v1/booking: holds, the confirm/cancel/reschedule transitions, reads. Thin: validate, call the use case, answer. */
export function bookingRoutes(deps: BookingDeps, auth: Auth): Router {
  const router = Router();
  const { requireAuth, requireRole } = auth;

  router.post('/hold', requireAuth, requireRole('student'), async (req, res) => {
    const body = parseBody(req, bookingHttp.holdBody);
    const key = idempotencyKeyOf(req);
    const result = await holdSlot(deps, principalOf(req), {
      slotId: body.slotId,
      idempotency: key ? { key, requestHash: requestHash(body) } : undefined,
    });
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.status).json(result.body);
  });

  router.get('/my', requireAuth, requireRole('student', 'teacher'), async (req, res) => {
    const query = parseQuery(req, bookingHttp.myBookingsQuery);
    res.json(await listMyBookings(deps, principalOf(req), query));
  });

  router.post('/holds/expire', requireAuth, requireRole('admin'), async (_req, res) => {
    res.json({ expired: await expireRunOutHolds(deps, 'admin') });
  });

  router.get('/:id', requireAuth, async (req, res) => {
    const { id } = parseParams(req, bookingHttp.bookingIdParams);
    res.json(await viewBooking(deps, principalOf(req), id));
  });

  router.post('/:id/confirm', requireAuth, requireRole('student'), async (req, res) => {
    const { id } = parseParams(req, bookingHttp.bookingIdParams);
    const body = parseBody(req, bookingHttp.confirmBody);
    const { booking, outcome } = await requestConfirmation(deps, principalOf(req), id, body.packageId);
    if (outcome === 'already_confirmed') {
      res.status(200).json(bookingJson(booking));
      return;
    }
    const waitSeconds = preferWaitSeconds(req.headers.prefer);
    const current = waitSeconds > 0 ? ((await awaitSettled(deps, id, waitSeconds * 1000)) ?? booking) : booking;
    res.status(current.status === 'confirming' ? 202 : 200).json(bookingJson(current));
  });

  router.post('/:id/cancel', requireAuth, async (req, res) => {
    const { id } = parseParams(req, bookingHttp.bookingIdParams);
    const body = parseBody(req, bookingHttp.cancelBody);
    const booking = await cancelBooking(deps, principalOf(req), id, body.reason ? body.reason : null);
    res.status(200).json(bookingJson(booking));
  });

  router.post('/:id/reschedule', requireAuth, requireRole('student'), async (req, res) => {
    const { id } = parseParams(req, bookingHttp.bookingIdParams);
    const body = parseBody(req, bookingHttp.rescheduleBody);
    const { booking, created } = await rescheduleBooking(deps, principalOf(req), id, body);
    res.status(created ? 201 : 200).json(bookingJson(booking));
  });

  return router;
}
