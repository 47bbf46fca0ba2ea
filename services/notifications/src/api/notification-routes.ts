import { Router } from 'express';
import type { Knex } from 'knex';
import { notificationsHttp, pageQuery } from '@guitaronline/contracts';
import { outboxBacklog } from '@guitaronline/messaging';
import { errors, parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import type { Clock } from '../domain/clock';
import type { WebhookSubscriptions } from '../domain/webhook-subscriptions';
import { deadLetteredCount, deliveryFigures, listUserNotifications } from '../data/notification-repository';
import { listLiveSubscriptions } from '../data/webhook-repository';

export interface RouteDeps {
  db: Knex;
  auth: Auth;
  clock: Clock;
  webhooks: WebhookSubscriptions;
}

export function notificationRoutes({ db, auth, clock, webhooks }: RouteDeps): Router {
  const router = Router();
  const admin = [auth.requireAuth, auth.requireRole('admin')];

  router.get('/api/v1/notifications/my', auth.requireAuth, async (req, res) => {
    const { userId } = principalOf(req);
    const query = parseQuery(req, pageQuery);
    res.json(await listUserNotifications(db, userId, query));
  });

  router.post('/api/v1/notifications/webhooks', ...admin, async (req, res) => {
    const body = parseBody(req, notificationsHttp.createWebhookBody);
    const created = await webhooks.subscribe(body, principalOf(req).userId);
    res.status(201).json(created);
  });

  router.get('/api/v1/notifications/webhooks', ...admin, async (req, res) => {
    const query = parseQuery(req, pageQuery);
    res.json(await listLiveSubscriptions(db, query));
  });

  router.delete('/api/v1/notifications/webhooks/:id', ...admin, async (req, res) => {
    const { id } = parseParams(req, notificationsHttp.webhookIdParams);
    if (!(await webhooks.unsubscribe(id))) throw errors.notFound('webhook subscription');
    res.status(204).end();
  });

  router.get('/api/v1/notifications/delivery/metrics', ...admin, async (_req, res) => {
    res.json({ ...(await deliveryFigures(db)), asOf: clock().toISOString() });
  });

  /** For the admin service's ops overview (internal network; still admin-only). */
  router.get('/internal/ops', ...admin, async (_req, res) => {
    const [outbox, failedNotifications] = await Promise.all([outboxBacklog(db), deadLetteredCount(db)]);
    res.json({ outbox, failedNotifications });
  });

  return router;
}
