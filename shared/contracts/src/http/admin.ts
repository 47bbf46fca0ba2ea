import { z } from '../zod';
import { isoDateTime, uuid } from '../primitives';
import { serviceName } from '../envelope';

// ---- KPI overview ----------------------------------------------------------------------

const count = z.number().int().nonnegative();
const amount = z.number().int();

export const kpiOverviewSchema = z
  .object({
    users: z.object({ student: count, teacher: count, admin: count, total: count }),
    bookings: z.object({
      hold: count,
      confirming: count,
      confirmed: count,
      rejected: count,
      canceled: count,
      expired: count,
      total: count,
    }),
    lessons: z.object({ scheduled: count, canceled: count, completed: count, total: count }),
    payments: z.object({
      pending: count,
      succeeded: count,
      failed: count,
      refunded: count,
      total: count,
      /** Amount of every payment that succeeded, including those refunded later. */
      succeededAmountCents: amount,
      /** Amount of the refunded payments. */
      refundedAmountCents: amount,
      /** succeeded − refunded: what was paid and kept. */
      netAmountCents: amount,
      /** The same three amounts per currency (the top-level sums mix currencies if there are several). */
      byCurrency: z.record(
        z.string(),
        z.object({ succeededAmountCents: amount, refundedAmountCents: amount, netAmountCents: amount }),
      ),
    }),
    packages: z.object({ active: count, depleted: count, expired: count, canceled: count, total: count }),
    /** occurredAt of the newest event applied to the read model; null before the first one. */
    asOf: isoDateTime.nullable(),
  })
  .openapi('KpiOverview');
export type KpiOverview = z.infer<typeof kpiOverviewSchema>;

// ---- Operations overview ---------------------------------------------------------------

export const outboxBacklogSchema = z.object({ pending: count, oldestPendingSeconds: z.number().nonnegative() });

/** What each service's `GET /internal/ops` answers (admin bearer token required). Fields a service does not own are absent. */
export const internalOpsResponse = z
  .object({
    outbox: outboxBacklogSchema,
    staleHolds: count.optional(),
    stuckConfirming: count.optional(),
    overdueActivePackages: count.optional(),
    failedNotifications: count.optional(),
  })
  .openapi('InternalOps');
export type InternalOps = z.infer<typeof internalOpsResponse>;

const queueDepth = z.object({
  ready: count,
  /** null when depths come from AMQP passive declares, which do not report unacknowledged messages. */
  unacked: count.nullable(),
  consumers: count,
});
const queueTotals = z.object({ total: count, byQueue: z.record(z.string(), count) });

export const opsOverviewSchema = z
  .object({
    /** Outbox backlog of every service that answered (admin's own included). */
    outbox: z.record(z.string(), outboxBacklogSchema),
    queues: z.record(z.string(), queueDepth),
    /** Known queues that do not exist on the broker (their service never started). */
    missingQueues: z.array(z.string()),
    /** Messages waiting in retry queues. */
    retrying: queueTotals,
    deadLetters: queueTotals,
    notifications: z.object({ failed: count.nullable() }),
    booking: z.object({ staleHolds: count.nullable(), stuckConfirming: count.nullable() }),
    billing: z.object({ overdueActivePackages: count.nullable() }),
    /** Services (or `rabbitmq`) that did not answer in time or answered with an error. */
    degraded: z.array(z.string()),
    /** Services that answered but expose no ops endpoint (404). */
    opsUnsupported: z.array(z.string()),
    asOf: isoDateTime,
  })
  .openapi('OpsOverview');
export type OpsOverview = z.infer<typeof opsOverviewSchema>;

// ---- Admin actions ---------------------------------------------------------------------

export const adminActionName = z.enum([
  'admin.kpi.view',
  'admin.ops.view',
  'admin.actions.view',
  'admin.traces.view',
  'admin.dead_letters.view',
  'admin.dead_letters.redrive',
]);
export type AdminActionName = z.infer<typeof adminActionName>;

export const adminActionSchema = z
  .object({
    id: uuid,
    adminId: uuid,
    action: adminActionName,
    target: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
    at: isoDateTime,
  })
  .openapi('AdminAction');
export type AdminAction = z.infer<typeof adminActionSchema>;

export const actionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(500).optional(),
  action: adminActionName.optional(),
  adminId: uuid.optional(),
});

// ---- Traces ----------------------------------------------------------------------------

export const correlationIdParams = z.object({ correlationId: z.string().min(1).max(128) });

export const traceEventSchema = z
  .object({
    id: uuid,
    type: z.string(),
    /** The service that produced the event (the envelope's `source`). */
    producer: serviceName,
    /** The services that consume this type (EVENTS.md catalogue). */
    consumers: z.array(serviceName),
    occurredAt: isoDateTime,
    receivedAt: isoDateTime,
    causationId: uuid.nullable(),
    aggregateId: z.string(),
    payload: z.record(z.string(), z.unknown()),
  })
  .openapi('TraceEvent');

export const traceSchema = z
  .object({ correlationId: z.string(), events: z.array(traceEventSchema) })
  .openapi('Trace');
export type Trace = z.infer<typeof traceSchema>;

// ---- Dead letters ----------------------------------------------------------------------

export const deadLettersQuery = z.object({
  /** A dead-letter queue name (`<service>.events.dlq`) or a consuming service's name; all when absent. */
  queue: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const deadLetterSchema = z
  .object({
    queue: z.string(),
    messageId: z.string().nullable(),
    type: z.string().nullable(),
    correlationId: z.string().nullable(),
    routingKey: z.string().nullable(),
    /** Why it was parked (`x-error`). */
    reason: z.string().nullable(),
    /** Attempts made before parking (`x-attempts`). */
    attempts: z.number().int().nullable(),
    parkedAt: z.string().nullable(),
    sourceQueue: z.string().nullable(),
    /** The message body: parsed JSON, or the raw text when it is not JSON. */
    body: z.unknown(),
  })
  .openapi('DeadLetter');
export type DeadLetter = z.infer<typeof deadLetterSchema>;

export const deadLetterListSchema = z
  .object({
    /** Oldest first (queue order); a peek, so nextCursor is always null. */
    items: z.array(deadLetterSchema),
    nextCursor: z.null(),
    /** Messages in each listed queue when it was read. */
    counts: z.record(z.string(), count),
  })
  .openapi('DeadLetterList');

export const deadLetterQueueParams = z.object({ queue: z.string().min(1).max(200) });

export const redriveBody = z
  .strictObject({ messageIds: z.array(z.string().min(1).max(200)).min(1).max(1000).optional() })
  .openapi('RedriveRequest');

export const redriveResultSchema = z
  .object({
    redriven: count,
    /** Requested ids that were not found in the queue. */
    notFound: z.array(z.string()),
  })
  .openapi('RedriveResult');
