import type { adminHttp } from '@guitaronline/contracts';
import type { ServiceQueueSet } from './queue-topology';

export interface Backlog {
  pending: number;
  oldestPendingSeconds: number;
}

export type ServiceAnswer =
  | { service: string; status: 'ok'; ops: adminHttp.InternalOps }
  | { service: string; status: 'unsupported' }
  | { service: string; status: 'degraded'; reason: string };

export interface QueueSnapshotLike {
  queues: Record<string, { ready: number; unacked: number | null; consumers: number }>;
  missing: string[];
}

export interface OpsSources {
  ownOutbox: () => Promise<Backlog>;
  askServices: () => Promise<ServiceAnswer[]>;
  queueSnapshot: () => Promise<QueueSnapshotLike>;
  queueSets: readonly ServiceQueueSet[];
  now: () => Date;
  /** Budget of the local sources (own outbox, broker); the services' calls have their own breakers. */
  timeoutMs: number;
}

/** Rejects when `promise` has not settled within `ms`; the overview then names the source degraded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function totals(names: readonly string[], snapshot: QueueSnapshotLike): { total: number; byQueue: Record<string, number> } {
  const byQueue: Record<string, number> = {};
  let total = 0;
  for (const name of names) {
    const depth = snapshot.queues[name];
    if (!depth) continue;
    // a parked or retrying message is one that is in the queue, ready or being looked at
    const n = depth.ready + (depth.unacked ?? 0);
    byQueue[name] = n;
    total += n;
  }
  return { total, byQueue };
}

/**
 * The operations overview: every source is asked at once, and none can fail the whole — a
 * service that does not answer is named in `degraded` (its fields are null), and so is
 * `rabbitmq` when the queue depths cannot be read.
 */
export async function operationsOverview(sources: OpsSources): Promise<adminHttp.OpsOverview> {
  const [own, answers, snapshot] = await Promise.all([
    within(sources.ownOutbox(), sources.timeoutMs, 'admin outbox').then(
      (b) => ({ ok: true as const, b }),
      () => ({ ok: false as const }),
    ),
    sources.askServices(),
    within(sources.queueSnapshot(), sources.timeoutMs, 'rabbitmq').then(
      (s) => ({ ok: true as const, s }),
      () => ({ ok: false as const }),
    ),
  ]);
  const degraded: string[] = [];
  const opsUnsupported: string[] = [];
  const outbox: Record<string, Backlog> = {};
  if (own.ok) outbox.admin = own.b;
  else degraded.push('admin');
  const ops: Record<string, adminHttp.InternalOps> = {};
  for (const answer of answers) {
    if (answer.status === 'ok') {
      ops[answer.service] = answer.ops;
      outbox[answer.service] = answer.ops.outbox;
    } else if (answer.status === 'unsupported') {
      opsUnsupported.push(answer.service);
    } else {
      degraded.push(answer.service);
    }
  }
  const queues = snapshot.ok ? snapshot.s : { queues: {}, missing: [] };
  if (!snapshot.ok) degraded.push('rabbitmq');
  return {
    outbox,
    queues: queues.queues,
    missingQueues: queues.missing,
    retrying: totals(sources.queueSets.flatMap((s) => s.retries), queues),
    deadLetters: totals(sources.queueSets.map((s) => s.dlq), queues),
    notifications: { failed: ops.notifications?.failedNotifications ?? null },
    booking: { staleHolds: ops.booking?.staleHolds ?? null, stuckConfirming: ops.booking?.stuckConfirming ?? null },
    billing: { overdueActivePackages: ops.billing?.overdueActivePackages ?? null },
    degraded,
    opsUnsupported,
    asOf: sources.now().toISOString(),
  };
}
