import type { Knex } from 'knex';
import type { DomainEvent } from '@guitaronline/contracts';

type Db = Knex | Knex.Transaction;

export interface LoggedEvent {
  id: string;
  type: string;
  version: number;
  source: string;
  correlationId: string;
  causationId: string | null;
  aggregateId: string;
  occurredAt: string;
  receivedAt: string;
  payload: Record<string, unknown>;
}

interface EventLogRow {
  event_id: string;
  type: string;
  version: number;
  source: string;
  correlation_id: string;
  causation_id: string | null;
  aggregate_id: string;
  occurred_at: Date;
  received_at: Date;
  payload: Record<string, unknown>;
}

function toLoggedEvent(row: EventLogRow): LoggedEvent {
  return {
    id: row.event_id,
    type: row.type,
    version: row.version,
    source: row.source,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    aggregateId: row.aggregate_id,
    occurredAt: row.occurred_at.toISOString(),
    receivedAt: row.received_at.toISOString(),
    payload: row.payload,
  };
}

/** The logged event as the envelope it arrived in (for replays). */
export function toEnvelope(event: LoggedEvent): DomainEvent {
  return {
    id: event.id,
    type: event.type,
    version: event.version,
    occurredAt: event.occurredAt,
    source: event.source,
    correlationId: event.correlationId,
    causationId: event.causationId,
    aggregateId: event.aggregateId,
    payload: event.payload,
  } as DomainEvent;
}

/** Writes events to the log once each, in one statement; returns those that were not there yet, in order. */
export async function appendEvents(db: Db, events: readonly DomainEvent[]): Promise<DomainEvent[]> {
  if (events.length === 0) return [];
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const inserted: { event_id: string }[] = await db('event_log')
    .insert(
      unique.map((event) => ({
        event_id: event.id,
        type: event.type,
        version: event.version,
        source: event.source,
        correlation_id: event.correlationId,
        causation_id: event.causationId,
        aggregate_id: event.aggregateId,
        occurred_at: event.occurredAt,
        payload: event.payload,
      })),
    )
    .onConflict('event_id')
    .ignore()
    .returning('event_id');
  const fresh = new Set(inserted.map((r) => r.event_id));
  return unique.filter((e) => fresh.has(e.id));
}

/** The events of one flow (unordered beyond occurredAt; see orderTrace). */
export async function eventsOfCorrelation(db: Db, correlationId: string, limit: number): Promise<LoggedEvent[]> {
  const rows: EventLogRow[] = await db('event_log').where({ correlation_id: correlationId }).orderBy([{ column: 'occurred_at' }, { column: 'event_id' }]).limit(limit);
  return rows.map(toLoggedEvent);
}

/** Every logged event in (occurredAt, id) order, in batches: a replay's cost per batch stays flat. */
export async function* allEventsInOrder(db: Db, batchSize = 1_000): AsyncGenerator<LoggedEvent[]> {
  // the cursor keeps occurred_at as Postgres text: a JS Date would drop the microseconds
  let after: { occurredAt: string; id: string } | undefined;
  for (;;) {
    const query = db('event_log')
      .select('*', db.raw('occurred_at::text as cursor_at'))
      .orderBy([{ column: 'occurred_at' }, { column: 'event_id' }])
      .limit(batchSize);
    if (after) query.whereRaw('(occurred_at, event_id) > (?::timestamptz, ?::uuid)', [after.occurredAt, after.id]);
    const rows = (await query) as (EventLogRow & { cursor_at: string })[];
    if (rows.length === 0) return;
    yield rows.map(toLoggedEvent);
    const last = rows[rows.length - 1];
    after = { occurredAt: last.cursor_at, id: last.event_id };
    if (rows.length < batchSize) return;
  }
}

/** occurredAt of the newest logged event: the "as of" of the read model. */
export async function newestEventAt(db: Db): Promise<string | null> {
  const row = await db('event_log').max({ at: 'occurred_at' }).first();
  const at = row?.at as Date | null | undefined;
  return at ? at.toISOString() : null;
}
