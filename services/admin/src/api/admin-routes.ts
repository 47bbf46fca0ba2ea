import { Router, type Request } from 'express';
import type { Knex } from 'knex';
import type { Logger } from '@guitaronline/platform';
import { SOURCE_QUEUE_HEADER } from '@guitaronline/messaging';
import { adminHttp } from '@guitaronline/contracts';
import { AppError, errors, parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import type { DeadLetterStore } from '../clients/dead-letter-store';
import { recordAdminAction, listAdminActions } from '../data/admin-action-repository';
import { eventsOfCorrelation, newestEventAt } from '../data/event-log-repository';
import { readKpiCounts } from '../data/kpi-repository';
import { consumersOf } from '../domain/event-consumers';
import { toKpiOverview } from '../domain/kpi-overview';
import { resolveDeadLetterQueue, redriveTarget, type ServiceQueueSet } from '../domain/queue-topology';
import { orderTrace } from '../domain/trace-order';

export interface AdminRouteDeps {
  db: Knex;
  auth: Auth;
  logger: Logger;
  opsOverview: (authorization: string | undefined) => Promise<adminHttp.OpsOverview>;
  deadLetters: DeadLetterStore;
  queueSets: readonly ServiceQueueSet[];
  clock: () => Date;
}

/** Events shown per trace at most; a flow is a handful of events, this only bounds a runaway. */
const MAX_TRACE_EVENTS = 2_000;
/** Messages one redrive looks at at most. */
const MAX_REDRIVE = 1_000;

export function adminRoutes(deps: AdminRouteDeps): Router {
  const router = Router();
  router.use(deps.auth.requireAuth, deps.auth.requireRole('admin'));

  /** Every admin read and action is itself recorded (DESIGN.md), after it succeeded. */
  const audit = (req: Request, action: adminHttp.AdminActionName, target: string | null, details?: Record<string, unknown>) =>
    recordAdminAction(deps.db, { adminId: principalOf(req).userId, action, target, requestId: req.requestId ?? null, details: details ?? null, at: deps.clock() });

  /** Broker trouble is a 503 the client can retry, not an internal error. */
  const withBroker = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof AppError) throw err;
      deps.logger.warn({ err }, 'broker operation failed');
      throw errors.unavailable('RabbitMQ is unavailable; try again shortly.');
    }
  };

  router.get('/kpi/overview', async (req, res) => {
    const [counts, asOf] = await Promise.all([readKpiCounts(deps.db), newestEventAt(deps.db)]);
    const overview = toKpiOverview(counts, asOf);
    await audit(req, 'admin.kpi.view', null);
    res.json(overview);
  });

  router.get('/ops/overview', async (req, res) => {
    const overview = await deps.opsOverview(req.headers.authorization);
    await audit(req, 'admin.ops.view', null, { degraded: overview.degraded });
    res.json(overview);
  });

  router.get('/actions', async (req, res) => {
    const query = parseQuery(req, adminHttp.actionsQuery);
    const page = await listAdminActions(deps.db, query);
    await audit(req, 'admin.actions.view', query.action ?? null);
    res.json(page);
  });

  router.get('/traces/:correlationId', async (req, res) => {
    const { correlationId } = parseParams(req, adminHttp.correlationIdParams);
    const events = orderTrace(await eventsOfCorrelation(deps.db, correlationId, MAX_TRACE_EVENTS));
    await audit(req, 'admin.traces.view', correlationId, { events: events.length });
    res.json({
      correlationId,
      events: events.map((e) => ({
        id: e.id,
        type: e.type,
        producer: e.source,
        consumers: consumersOf(e.type),
        occurredAt: e.occurredAt,
        receivedAt: e.receivedAt,
        causationId: e.causationId,
        aggregateId: e.aggregateId,
        payload: e.payload,
      })),
    });
  });

  router.get('/dead-letters', async (req, res) => {
    const query = parseQuery(req, adminHttp.deadLettersQuery);
    let sets: readonly ServiceQueueSet[] = deps.queueSets;
    if (query.queue !== undefined) {
      const set = resolveDeadLetterQueue(deps.queueSets, query.queue);
      if (!set) {
        throw errors.validation([{ path: 'query.queue', message: `one of ${deps.queueSets.map((s) => s.dlq).join(', ')}` }]);
      }
      sets = [set];
    }
    const items: adminHttp.DeadLetter[] = [];
    const counts: Record<string, number> = {};
    await withBroker(async () => {
      for (const set of sets) {
        const peek = await deps.deadLetters.peek(set.dlq, query.limit - items.length);
        counts[set.dlq] = peek.count;
        items.push(...peek.items);
        if (items.length >= query.limit) break;
      }
    });
    await audit(req, 'admin.dead_letters.view', query.queue ?? null, { listed: items.length });
    res.json({ items, nextCursor: null, counts });
  });

  router.post('/dead-letters/:queue/redrive', async (req, res) => {
    const { queue } = parseParams(req, adminHttp.deadLetterQueueParams);
    const set = resolveDeadLetterQueue(deps.queueSets, queue);
    if (!set) throw errors.notFound('dead-letter queue');
    const body = parseBody(req, adminHttp.redriveBody);
    const result = await withBroker(() =>
      deps.deadLetters.redrive(set.dlq, (msg) => redriveTarget(set, msg.properties.headers?.[SOURCE_QUEUE_HEADER]), {
        messageIds: body.messageIds,
        max: MAX_REDRIVE,
      }),
    );
    await audit(req, 'admin.dead_letters.redrive', set.dlq, { redriven: result.redriven, messageIds: body.messageIds ?? null, notFound: result.notFound });
    res.json(result);
  });

  return router;
}
