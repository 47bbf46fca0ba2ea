import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { eventCatalogue, validatePayload, type DomainEvent, type EventPayload, type EventType } from '@guitaronline/contracts';
import { afterCommit, getContext } from '@guitaronline/platform';

/**
 * In-process signal that an outbox commit happened, carrying the committed rows: the relay
 * living in the same process publishes them at once, without reading them back, instead of
 * waiting for its poll (DESIGN.md rule 2 — no pg_notify per write).
 */
export const outboxSignal = new EventEmitter();
outboxSignal.setMaxListeners(100);

export const OUTBOX_TABLE = 'outbox';
export const INBOX_TABLE = 'inbox';

export interface RecordEventInput<T extends EventType> {
  type: T;
  payload: EventPayload<T>;
  aggregateId: string;
  /** Defaults to now; pass the use case's clock for deterministic tests. */
  occurredAt?: Date;
  /** Defaults to the current context's correlation id (the HTTP request id), else a new id. */
  correlationId?: string;
  causationId?: string | null;
}

type Transactionish = Knex | Knex.Transaction;

/**
 * The inbox row of a message that a consumer's fast path handles in one autocommit statement
 * (ConsumerOptions.fastPaths): the statement of the change writes it too.
 */
export interface InboxClaim {
  messageId: string;
  consumer: string;
  type: string;
}

export interface OutboxRow {
  id: string;
  type: string;
  envelope: { id: string; type: string; correlationId: string; occurredAt: string } & Record<string, unknown>;
}

/** The rows one transaction wrote, emitted as `committed` once it commits; one relay takes them. */
export interface CommittedBatch {
  /** The knex config of the database they were written to: a relay takes only its own. */
  config: unknown;
  rows: OutboxRow[];
  taken: boolean;
}

const batches = new WeakMap<object, CommittedBatch>();

/** Envelopes for new events: payloads validated against the catalogue, ids and defaults assigned. */
export function newEnvelopes(inputs: readonly RecordEventInput<EventType>[]): DomainEvent[] {
  const context = getContext();
  return inputs.map((input) => {
    const entry = eventCatalogue[input.type];
    return {
      id: randomUUID(),
      type: input.type,
      version: entry.version,
      occurredAt: (input.occurredAt ?? new Date()).toISOString(),
      source: entry.producer,
      correlationId: input.correlationId ?? context.correlationId ?? randomUUID(),
      causationId: input.causationId !== undefined ? input.causationId : (context.causationId ?? null),
      aggregateId: input.aggregateId,
      payload: validatePayload(input.type, input.payload),
    } as unknown as DomainEvent;
  });
}

const outboxRowOf = (envelope: DomainEvent): OutboxRow => ({ id: envelope.id, type: envelope.type, envelope: envelope as unknown as OutboxRow['envelope'] });

/**
 * For a statement that writes outbox rows itself (e.g. in a CTE, as one autocommit statement):
 * once it has committed, hands the rows it wrote to the in-process relay, as recordEvents does
 * after a commit. Rows not handed over are still published by the relay's poll.
 */
export function announceCommitted(db: Knex, envelopes: readonly DomainEvent[]): void {
  if (envelopes.length === 0) return;
  const config = (db as unknown as { client: { config: unknown } }).client.config;
  outboxSignal.emit('committed', { config, rows: envelopes.map(outboxRowOf), taken: false } satisfies CommittedBatch);
}

/**
 * Records events in the caller's transaction (one multi-row insert): they are published after
 * it commits, and never if it rolls back. Envelopes in input order.
 */
export async function recordEvents(trx: Transactionish, inputs: readonly RecordEventInput<EventType>[]): Promise<DomainEvent[]> {
  if (inputs.length === 0) return [];
  const envelopes = newEnvelopes(inputs);
  await trx(OUTBOX_TABLE).insert(envelopes.map((envelope) => ({ id: envelope.id, type: envelope.type, aggregate_id: envelope.aggregateId, envelope })));
  announceAfterCommit(trx, envelopes);
  return envelopes;
}

/**
 * For outbox rows a statement of the caller's transaction wrote itself (built with
 * `newEnvelopes` and inserted in the same statement as the change they announce — one round
 * trip instead of two): hands them to the in-process relay once the transaction commits,
 * together with whatever else it recorded; a rollback hands over nothing. Outside a
 * transaction (an autocommit statement, already committed) they are handed over at once.
 */
export function announceAfterCommit(trx: Transactionish, envelopes: readonly DomainEvent[]): void {
  if (envelopes.length === 0) return;
  if (!(trx as Knex.Transaction).isTransaction) {
    announceCommitted(trx as Knex, envelopes);
    return;
  }
  let batch = batches.get(trx);
  if (!batch) {
    const config = (trx as unknown as { client: { config: unknown } }).client.config;
    const created: CommittedBatch = { config, rows: [], taken: false };
    batches.set(trx, created);
    // one handover per transaction, with every row it recorded; a rollback hands over nothing
    afterCommit(trx, () => outboxSignal.emit('committed', created));
    batch = created;
  }
  batch.rows.push(...envelopes.map(outboxRowOf));
}

/**
 * Runs `change` — an insert, update or delete with `returning` (a query builder or a raw query)
 * — and, in the same statement, writes the outbox rows of `envelopes` (built beforehand with
 * `newEnvelopes`) if and only if the change returned a row: a state change and the events that
 * announce it in one round trip instead of two. The rows go to the relay once the transaction
 * commits (`announceAfterCommit`). Returns the change's rows. `options`: steps before the
 * change, the inbox row of a consumer's fast path (ChangeOptions).
 */
export async function changeWithEvents<Row>(
  trx: Transactionish,
  change: Knex.QueryBuilder | Knex.Raw,
  envelopes: readonly DomainEvent[],
  options: ChangeOptions = {},
): Promise<Row[]> {
  const { sql, bindings } = change.toSQL();
  const parts = statementParts(options);
  const { rows } = await trx.raw<{ rows: Row[] }>(
    `with ${parts.before}changed as (${sql}), recorded as (
       insert into ${OUTBOX_TABLE} (id, type, aggregate_id, envelope)
       select e.id, e.type, e.aggregate_id, e.envelope
       from unnest(?::uuid[], ?::text[], ?::text[], ?::jsonb[]) as e(id, type, aggregate_id, envelope)
       where exists (select 1 from changed)
     )${parts.after}
     select * from changed`,
    [
      ...parts.beforeBindings,
      ...bindings,
      envelopes.map((e) => e.id),
      envelopes.map((e) => e.type),
      envelopes.map((e) => e.aggregateId),
      envelopes.map((e) => JSON.stringify(e)),
      ...parts.afterBindings,
    ],
  );
  if (rows.length > 0) announceAfterCommit(trx, envelopes);
  return rows;
}

/** What else the statement of `changeWithEvents` / `changeWithFilledEvent` does. */
export interface ChangeOptions {
  /**
   * Data-modifying steps the change reads, run before it in the same statement, by name (e.g. a
   * claim row the change inserts from: `insert … select … from claim`). Postgres allows
   * data-modifying WITH only at the top of a statement, so they cannot sit inside the change.
   */
  before?: Readonly<Record<string, Knex.Raw>>;
  /** Data-modifying steps that read the change's rows (`changed`), by name (e.g. a ledger entry of the changed row). */
  after?: Readonly<Record<string, Knex.Raw>>;
  /**
   * A consumer's fast path (ConsumerOptions.fastPaths): the statement also writes the message's
   * inbox row when the change returns a row — a plain insert, so if the row is there already
   * (the message was handled before) the whole statement fails with a unique violation on the
   * inbox and changes nothing.
   */
  inbox?: InboxClaim;
}

/** The parts `ChangeOptions` add around `changed as (…), recorded as (…)`, with their bindings. */
function statementParts(options: ChangeOptions): { before: string; beforeBindings: readonly unknown[]; after: string; afterBindings: readonly unknown[] } {
  const steps = (named: Readonly<Record<string, Knex.Raw>> | undefined) => {
    const sql: string[] = [];
    const bindings: unknown[] = [];
    for (const [name, query] of Object.entries(named ?? {})) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name) || ['changed', 'recorded', 'inboxed'].includes(name)) throw new Error(`not a step name: ${name}`);
      const step = query.toSQL();
      sql.push(`${name} as (${step.sql})`);
      bindings.push(...step.bindings);
    }
    return { sql, bindings };
  };
  const before = steps(options.before);
  const after = steps(options.after);
  const { inbox } = options;
  if (inbox) {
    after.sql.push(`inboxed as (insert into ${INBOX_TABLE} (message_id, consumer, type) select ?, ?, ? where exists (select 1 from changed))`);
    after.bindings.push(inbox.messageId, inbox.consumer, inbox.type);
  }
  return {
    before: before.sql.map((step) => `${step}, `).join(''),
    beforeBindings: before.bindings,
    after: after.sql.map((step) => `, ${step}`).join(''),
    afterBindings: after.bindings,
  };
}

/** Column of `changeWithFilledEvent`'s statement that carries the recorded event next to the changed row. */
const RECORDED_EVENT_COLUMN = 'recorded_outbox_event';

/**
 * An ISO-8601 UTC timestamp exactly as JavaScript's `toISOString` writes it, from an SQL
 * `timestamptz` expression: for a `fill` of `changeWithFilledEvent`.
 */
export function isoTimestampSql(expression: string): string {
  return `to_char(${expression} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * SQL for an event envelope with some payload fields taken from SQL expressions: the envelope's
 * JSON is bound twice to `?`, `fill` maps a payload field to an SQL expression of the statement
 * (authored in code, never from input), e.g. `{ teacherId: 'changed.teacher_id' }`.
 */
function filledEnvelopeSql(fill: Readonly<Record<string, string>>): string {
  const fields = Object.entries(fill).map(([field, expression]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) throw new Error(`not a payload field name: ${field}`);
    return `'${field}', ${expression}`;
  });
  return `jsonb_set(?::jsonb, '{payload}', (?::jsonb -> 'payload') || jsonb_build_object(${fields.join(', ')}))`;
}

/**
 * `changeWithEvents` for an event whose payload repeats what the change wrote, known only once
 * it ran: runs `change` (an insert or update with `returning *` that changes at most one row)
 * and, in the same statement, writes the outbox row of `event` if it changed one, with the
 * payload fields named in `fill` taken from the changed row — `fill` maps a payload field to
 * an SQL expression over `changed`, e.g. `{ teacherId: 'changed.teacher_id' }` (authored in
 * code, never from input). The event is built beforehand as usual (validated; a stand-in of
 * the right type where the row's value goes). It goes to the relay once the transaction commits
 * (at once for an autocommit statement). Returns the changed row and the event as recorded, or
 * undefined when nothing changed (and nothing was recorded).
 * `options`: steps before the change, the inbox row of a consumer's fast path (ChangeOptions).
 */
export async function changeWithFilledEvent<Row extends object, T extends EventType>(
  db: Transactionish,
  change: Knex.QueryBuilder | Knex.Raw,
  event: DomainEvent<T>,
  fill: Readonly<Record<string, string>>,
  options: ChangeOptions = {},
): Promise<{ row: Row; event: DomainEvent<T> } | undefined> {
  const { sql, bindings } = change.toSQL();
  const envelope = JSON.stringify(event);
  const parts = statementParts(options);
  const { rows } = await db.raw<{ rows: (Row & { [RECORDED_EVENT_COLUMN]: DomainEvent<T> })[] }>(
    `with ${parts.before}changed as (${sql}), recorded as (
       insert into ${OUTBOX_TABLE} (id, type, aggregate_id, envelope)
       select ?, ?, ?, ${filledEnvelopeSql(fill)}
       from changed
       returning envelope
     )${parts.after}
     select changed.*, recorded.envelope as ${RECORDED_EVENT_COLUMN} from changed, recorded`,
    [...parts.beforeBindings, ...bindings, event.id, event.type, event.aggregateId, envelope, envelope, ...parts.afterBindings],
  );
  const first = rows[0];
  if (!first) return undefined;
  const { [RECORDED_EVENT_COLUMN]: recorded, ...row } = first;
  announceAfterCommit(db, [recorded as unknown as DomainEvent]);
  return { row: row as unknown as Row, event: recorded };
}

/** One event; see recordEvents. */
export async function recordEvent<T extends EventType>(trx: Transactionish, input: RecordEventInput<T>): Promise<DomainEvent<T>> {
  const [envelope] = await recordEvents(trx, [input as unknown as RecordEventInput<EventType>]);
  return envelope as DomainEvent<T>;
}

/** Tables every service has: call from the service's first migration. */
export async function createMessagingTables(knex: Knex): Promise<void> {
  await knex.schema.createTable(OUTBOX_TABLE, (t) => {
    t.uuid('id').primary();
    t.text('type').notNullable();
    t.text('aggregate_id').notNullable();
    t.jsonb('envelope').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('published_at', { useTz: true });
    t.integer('publish_attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.bigIncrements('seq', { primaryKey: false });
  });
  // the relay's claim scans only unpublished rows, oldest first: its cost stays flat as history grows
  await knex.raw(`create index outbox_unpublished_idx on ${OUTBOX_TABLE} (seq) where published_at is null`);
  await knex.raw(`create index outbox_published_at_idx on ${OUTBOX_TABLE} (published_at) where published_at is not null`);
  await knex.schema.createTable(INBOX_TABLE, (t) => {
    t.uuid('message_id').notNullable();
    t.text('consumer').notNullable();
    t.text('type').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['message_id', 'consumer']);
    t.index(['received_at']);
  });
}
