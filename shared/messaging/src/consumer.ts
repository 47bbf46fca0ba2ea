import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { EventSchemaError, parseEvent, type DomainEvent, type EventType } from '@guitaronline/contracts';
import { prom, runWithContext } from '@guitaronline/platform';
import type { BrokerConnection } from './connection';
import { INBOX_TABLE, type InboxClaim } from './outbox';
import { DEFAULT_RETRY_DELAYS_MS, declareServiceQueues, queueNames, type ServiceQueues } from './topology';

export type EventHandler<T extends EventType = EventType> = (trx: Knex.Transaction, event: DomainEvent<T>) => Promise<void>;
export type EventHandlers = { [T in EventType]?: EventHandler<T> };
/**
 * Handles the new events of one batch (delivery order, each once) in the batch's transaction.
 * It runs outside any one event's context: events it records must name their correlation and
 * causation ids themselves.
 */
export type BatchHandler = (trx: Knex.Transaction, events: DomainEvent[]) => Promise<void>;
/**
 * An event's usual case in one autocommit statement on the service's database, tried before
 * its handler's transaction: the statement makes the change, writes its events and the
 * message's inbox row (`inbox`, e.g. `changeWithFilledEvent(knex, change, event, fill,
 * { inbox })`) — all of them or none.
 * Resolves true when it changed something, false when it changed nothing (the event then goes
 * to its handler as usual, which must handle every case on its own).
 */
export type FastPath<T extends EventType = EventType> = (event: DomainEvent<T>, inbox: InboxClaim) => Promise<boolean>;
export type FastPaths = { [T in EventType]?: FastPath<T> };

export const ATTEMPTS_HEADER = 'x-attempts';
export const ERROR_HEADER = 'x-error';
export const PARKED_AT_HEADER = 'x-parked-at';
export const SOURCE_QUEUE_HEADER = 'x-source-queue';

export interface ConsumerOptions {
  service: string;
  /** Prefix of the queue names: `<prefix><service>.events` (default none). */
  queuePrefix?: string;
  knex: Knex;
  connection: BrokerConnection;
  exchange: string;
  handlers: EventHandlers;
  logger: Logger;
  metrics?: Registry;
  /** Delay of each retry tier; a failing message goes through them in order. */
  retryDelaysMs?: readonly number[];
  /** Attempts in all (first delivery included) before the message is parked. */
  maxAttempts?: number;
  prefetch?: number;
  /** Name recorded in the inbox; one service may run several consumers. */
  consumerName?: string;
  /**
   * Events with the same key are handled one at a time, across every replica (e.g. all the
   * events of one booking): the statement that inserts the inbox row first takes a
   * transaction-scoped advisory lock on `<consumer>:<key>`, so the handler runs under it and
   * reads what the previous holder committed. Undefined for an event: no lock.
   */
  serializeBy?: (event: DomainEvent) => string | undefined;
  /**
   * Handle up to this many messages in one transaction (one BEGIN/COMMIT and one inbox insert
   * for all of them), one batch at a time, in delivery order: what arrived while the previous
   * batch ran is the next batch, so a quiet queue waits for nothing. For read models and logs
   * that take many small events (admin, notifications). A batch whose transaction fails is
   * handled again message by message, each with its own retries. Not with `serializeBy`.
   */
  batch?: number;
  /**
   * Batch mode: when fewer than `batch` messages wait, wait this long for more before a batch
   * starts (default 0). A read model trades these milliseconds of staleness for fewer, larger
   * transactions under a steady trickle of events.
   */
  batchLingerMs?: number;
  /**
   * Batch mode: one call for the new events of a batch of two or more, instead of a handler
   * call per event (a single message still goes to its type's handler). For consumers that
   * write one multi-row statement per batch (e.g. admin's event log).
   */
  handleBatch?: BatchHandler;
  /**
   * The event types the queue is bound to (default: every type with a handler). A type with a
   * handler and no binding is handled when it arrives anyway: bound at run time with `bind`,
   * or by an earlier version of the service (bindings of a durable queue stay).
   */
  bindings?: readonly EventType[];
  /**
   * Per event type, its usual case as one autocommit statement (see FastPath): one round trip
   * instead of BEGIN, inbox row, change, COMMIT. A statement that finds the inbox row there
   * already (a redelivery) fails whole and the message goes the usual way, where it is a
   * duplicate. The statement takes no lock — not even `serializeBy`'s — so it is for a change
   * its own statement decides: a conditional update of one row (a concurrent or repeated
   * message finds it already changed), or an insert that first claims a row the locked
   * handlers write too, so a unique key orders them. Not with `batch`.
   */
  fastPaths?: FastPaths;
}

/** The consumer options a service tunes (the rest comes from its messaging wiring). */
export type ConsumerTuning = Pick<ConsumerOptions, 'serializeBy' | 'batch' | 'batchLingerMs' | 'handleBatch' | 'bindings' | 'fastPaths'>;

/** A parsed message with the handler it goes to. */
interface Accepted {
  msg: ConsumeMessage;
  event: DomainEvent;
  handler: EventHandler;
  attempt: number;
}

/**
 * A `serializeBy` for events that name an aggregate in one payload field (e.g. `bookingId`):
 * the events of one aggregate are handled one at a time; events without the field, freely.
 */
export function byPayloadField(field: string): (event: DomainEvent) => string | undefined {
  return (event) => {
    const value = (event.payload as Record<string, unknown>)[field];
    return typeof value === 'string' ? payloadFieldKey(field, value) : undefined;
  };
}

/** The key `byPayloadField(field)` gives an event whose payload has `field: value`. */
export function payloadFieldKey(field: string, value: string): string {
  return `${field}:${value}`;
}

/**
 * Inside a handler, takes the lock the consumer `consumer` takes for `key` (see `serializeBy`):
 * the transaction then also runs one at a time with that other aggregate's events. Take such
 * locks in one direction only (e.g. a newer booking locks an older one), or two handlers can
 * wait on each other.
 */
export async function lockSerializationKey(trx: Knex.Transaction, consumer: string, key: string): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [serializationLockKey(consumer, key)]);
}

function serializationLockKey(consumer: string, key: string): string {
  return `${consumer}:${key}`;
}

type Outcome = 'processed' | 'duplicate' | 'retried' | 'parked' | 'ignored';

/**
 * The inbox consumer. Each message runs its handler in one transaction with the inbox insert
 * `(message id, consumer)`: a redelivered message finds its row and has no second effect. A
 * message that fails its schema is parked at once; a handler error goes to the next retry
 * tier (growing TTL, dead-lettered back to the main queue) and after `maxAttempts` is parked
 * with the error. Nothing is acknowledged before its retry/park copy is confirmed.
 */
export class EventConsumer {
  private channel: ConfirmChannel | undefined;
  private running = false;
  private readonly queues: ServiceQueues;
  private readonly retryDelays: readonly number[];
  private readonly maxAttempts: number;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly outcomes: prom.Counter<'outcome' | 'type'> | undefined;
  private readonly handlerSeconds: prom.Histogram<'type'> | undefined;
  private readonly batchSizes: prom.Histogram | undefined;
  private readonly onConnected = () => void this.attach();
  /** Batch mode: accepted messages waiting for the batch in progress to end. */
  private readonly pending: { channel: ConfirmChannel; item: Accepted; done: () => void }[] = [];
  private draining = false;
  private consumerTag: string | undefined;

  constructor(private readonly options: ConsumerOptions) {
    if (options.batch !== undefined && options.serializeBy) throw new Error('a consumer either batches or serializes, not both');
    if (options.fastPaths && options.batch !== undefined) throw new Error('a consumer either batches or has fast paths, not both');
    this.retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.maxAttempts = options.maxAttempts ?? this.retryDelays.length + 1;
    this.queues = queueNames(`${options.queuePrefix ?? ''}${options.service}`, this.retryDelays.length);
    if (options.metrics) {
      this.outcomes = new prom.Counter({
        name: 'events_consumed_total',
        help: 'Consumed messages by outcome (processed, duplicate, retried, parked, ignored)',
        labelNames: ['outcome', 'type'],
        registers: [options.metrics],
      });
      this.handlerSeconds = new prom.Histogram({
        name: 'event_handler_duration_seconds',
        help: 'Handler transaction duration',
        labelNames: ['type'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers: [options.metrics],
      });
      if (options.batch !== undefined) {
        this.batchSizes = new prom.Histogram({
          name: 'event_batch_size',
          help: 'Messages per consumer transaction in batch mode (what batchLingerMs buys)',
          buckets: [1, 2, 5, 10, 20, 50, 100],
          registers: [options.metrics],
        });
      }
    }
  }

  get queueNames(): ServiceQueues {
    return this.queues;
  }

  /** The event types the consumer has handlers for. */
  get eventTypes(): EventType[] {
    return Object.keys(this.options.handlers) as EventType[];
  }

  /** The event types its queue is bound to at attach. */
  get boundTypes(): readonly EventType[] {
    return this.options.bindings ?? this.eventTypes;
  }

  /**
   * Binds the queue to more event types now (idempotent; the binding is durable, so every
   * replica receives them from here on). Rejects when the broker cannot be reached.
   */
  async bind(types: readonly EventType[]): Promise<void> {
    const unknown = types.filter((t) => !this.options.handlers[t]);
    if (unknown.length > 0) throw new Error(`no handler for ${unknown.join(', ')}`);
    await this.changeBindings((channel, type) => channel.bindQueue(this.queues.main, this.options.exchange, type), types);
  }

  /** Unbinds event types from the queue (idempotent; a type that was not bound is fine). */
  async unbind(types: readonly EventType[]): Promise<void> {
    await this.changeBindings((channel, type) => channel.unbindQueue(this.queues.main, this.options.exchange, type), types);
  }

  private async changeBindings(change: (channel: Channel, type: EventType) => Promise<unknown>, types: readonly EventType[]): Promise<void> {
    if (types.length === 0) return;
    const model = this.options.connection.current;
    if (!model) throw new Error('broker connection is down');
    const channel = await model.createChannel();
    try {
      for (const type of types) await change(channel, type);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.options.connection.on('connected', this.onConnected);
    if (this.options.connection.current) await this.attach();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.options.connection.off('connected', this.onConnected);
    const channel = this.channel;
    this.channel = undefined;
    // no new deliveries; what was delivered is handled and acknowledged before the channel closes
    if (channel && this.consumerTag) await channel.cancel(this.consumerTag).catch(() => undefined);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    if (channel) await channel.close().catch(() => undefined);
  }

  private async attach(): Promise<void> {
    const model = this.options.connection.current;
    if (!this.running || !model) return;
    try {
      const channel = await model.createConfirmChannel();
      channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'consumer channel error'));
      channel.on('close', () => {
        if (this.channel === channel) this.channel = undefined;
      });
      await declareServiceQueues(channel, {
        exchange: this.options.exchange,
        service: `${this.options.queuePrefix ?? ''}${this.options.service}`,
        eventTypes: this.boundTypes,
        retryDelaysMs: this.retryDelays,
      });
      await channel.prefetch(this.options.prefetch ?? 50);
      this.channel = channel;
      const { consumerTag } = await channel.consume(this.queues.main, (msg) => {
        if (!msg) return; // consumer cancelled by the broker; a reconnect re-attaches
        const work = this.handle(channel, msg).catch((err) =>
          this.options.logger.error({ err }, 'message handling failed; it will be redelivered'),
        );
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      });
      this.consumerTag = consumerTag;
      this.options.logger.info({ queue: this.queues.main, types: this.boundTypes.length }, 'consumer attached');
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'consumer attach failed; waiting for reconnect');
    }
  }

  private count(outcome: Outcome, type: string): void {
    this.outcomes?.inc({ outcome, type });
  }

  private async handle(channel: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const item = await this.accept(channel, msg);
    if (!item) return;
    if (this.options.batch === undefined) return this.process(channel, item);
    await new Promise<void>((done) => {
      this.pending.push({ channel, item, done });
      if (!this.draining) {
        this.draining = true;
        this.scheduleDrain();
      }
    });
  }

  /** Batch mode: the next batch starts now if a full one waits, else after the linger (if any). */
  private scheduleDrain(): void {
    const linger = this.options.batchLingerMs ?? 0;
    if (linger > 0 && this.pending.length < (this.options.batch ?? 1)) setTimeout(() => void this.drain(), linger);
    else setImmediate(() => void this.drain());
  }

  /** Parses a message; one that cannot be handled is parked or acknowledged here. */
  private async accept(channel: ConfirmChannel, msg: ConsumeMessage): Promise<Accepted | undefined> {
    const attempt = Number(msg.properties.headers?.[ATTEMPTS_HEADER] ?? 0) + 1;
    const routingType = msg.properties.type ?? msg.fields.routingKey;
    let event: DomainEvent;
    try {
      event = parseEvent(JSON.parse(msg.content.toString('utf8')));
    } catch (err) {
      const reason =
        err instanceof EventSchemaError
          ? `${err.message}${err.issues.length ? `: ${err.issues.map((i) => `${i.path} ${i.message}`).join('; ')}` : ''}`
          : `malformed message: ${(err as Error).message}`;
      await this.park(channel, msg, reason, attempt);
      this.count('parked', String(routingType));
      return undefined;
    }
    const handler = this.options.handlers[event.type] as EventHandler | undefined;
    if (!handler) {
      // bound by an older version of this service; nothing to do with it
      channel.ack(msg);
      this.count('ignored', event.type);
      return undefined;
    }
    return { msg, event, handler, attempt };
  }

  /** Batch mode: runs one batch of the waiting messages, then schedules the next if any wait. */
  private async drain(): Promise<void> {
    const channel = this.pending[0]!.channel;
    let size = 0;
    while (size < this.pending.length && size < (this.options.batch ?? 1) && this.pending[size]!.channel === channel) size += 1;
    const batch = this.pending.splice(0, size);
    this.batchSizes?.observe(batch.length);
    await this.processBatch(
      channel,
      batch.map((b) => b.item),
    ).catch((err: unknown) => this.options.logger.error({ err }, 'batch handling failed; its messages will be redelivered'));
    for (const b of batch) b.done();
    if (this.pending.length > 0) this.scheduleDrain();
    else this.draining = false;
  }

  private async processBatch(channel: ConfirmChannel, items: Accepted[]): Promise<void> {
    if (items.length === 1) return this.process(channel, items[0]!);
    const consumer = this.options.consumerName ?? this.options.service;
    const timer = this.handlerSeconds?.startTimer({ type: 'batch' });
    let fresh: Set<string>;
    try {
      fresh = await this.options.knex.transaction(async (trx) => {
        const inserted = await insertInboxRows(trx, items.map((i) => i.event), consumer);
        const handled = new Set<string>();
        const toHandle: Accepted[] = [];
        for (const item of items) {
          if (!inserted.has(item.event.id) || handled.has(item.event.id)) continue;
          handled.add(item.event.id);
          toHandle.push(item);
        }
        const { handleBatch } = this.options;
        if (handleBatch && toHandle.length > 0) {
          await handleBatch(
            trx,
            toHandle.map((i) => i.event),
          );
        } else {
          for (const { event, handler } of toHandle) {
            await runWithContext({ correlationId: event.correlationId, causationId: event.id, requestId: undefined }, () => handler(trx, event));
          }
        }
        return handled;
      });
    } catch (err) {
      timer?.();
      this.options.logger.warn({ err: err instanceof Error ? err.message : String(err), size: items.length }, 'batch failed; handling its messages one by one');
      for (const item of items) await this.process(channel, item);
      return;
    }
    timer?.();
    const counted = new Set<string>();
    for (const { msg, event } of items) {
      channel.ack(msg);
      this.count(fresh.has(event.id) && !counted.has(event.id) ? 'processed' : 'duplicate', event.type);
      counted.add(event.id);
    }
  }

  /** One message in its own transaction, with its retries. */
  private async process(channel: ConfirmChannel, { msg, event, handler, attempt }: Accepted): Promise<void> {
    const consumer = this.options.consumerName ?? this.options.service;
    const timer = this.handlerSeconds?.startTimer({ type: event.type });
    try {
      const processed = await runWithContext({ correlationId: event.correlationId, causationId: event.id, requestId: undefined }, async () => {
        if (await this.tryFastPath(event, consumer)) return true;
        return this.options.knex.transaction(async (trx) => {
          const lockKey = this.options.serializeBy?.(event);
          const inserted =
            lockKey === undefined ? await insertInboxRow(trx, event, consumer) : await insertInboxRowLocked(trx, event, consumer, serializationLockKey(consumer, lockKey));
          if (!inserted) return false;
          await handler(trx, event);
          return true;
        });
      });
      timer?.();
      channel.ack(msg);
      this.count(processed ? 'processed' : 'duplicate', event.type);
    } catch (err) {
      timer?.();
      const reason = err instanceof Error ? err.message : String(err);
      if (attempt >= this.maxAttempts) {
        this.options.logger.error({ err, eventId: event.id, type: event.type, attempt }, 'handler failed for good; parking');
        await this.park(channel, msg, reason, attempt);
        this.count('parked', event.type);
      } else {
        this.options.logger.warn({ err: reason, eventId: event.id, type: event.type, attempt }, 'handler failed; scheduling retry');
        await this.retry(channel, msg, reason, attempt);
        this.count('retried', event.type);
      }
    }
  }

  /** The event's fast path, if it has one: true when its statement took (inbox row included). */
  private async tryFastPath(event: DomainEvent, consumer: string): Promise<boolean> {
    const fast = this.options.fastPaths?.[event.type] as FastPath | undefined;
    if (!fast) return false;
    try {
      return await fast(event, { messageId: event.id, consumer, type: event.type });
    } catch (err) {
      if (isInboxConflict(err)) return false; // handled before: the usual way finds its inbox row
      throw err;
    }
  }

  private republish(channel: ConfirmChannel, queue: string, msg: ConsumeMessage, headers: Record<string, unknown>): Promise<void> {
    const { properties } = msg;
    return new Promise((resolve, reject) => {
      channel.sendToQueue(
        queue,
        msg.content,
        {
          persistent: true,
          contentType: properties.contentType,
          messageId: properties.messageId,
          type: properties.type ?? msg.fields.routingKey,
          correlationId: properties.correlationId,
          timestamp: properties.timestamp,
          appId: properties.appId,
          headers: { ...withoutDeathHeaders(properties.headers), 'x-original-routing-key': originalRoutingKey(msg), ...headers },
        },
        (err) => (err ? reject(err instanceof Error ? err : new Error('nacked')) : resolve()),
      );
    });
  }

  private async retry(channel: ConfirmChannel, msg: ConsumeMessage, reason: string, attempt: number): Promise<void> {
    const tier = Math.min(attempt - 1, this.queues.retries.length - 1);
    await this.republish(channel, this.queues.retries[tier], msg, {
      [ATTEMPTS_HEADER]: attempt,
      [ERROR_HEADER]: reason.slice(0, 1000),
    });
    channel.ack(msg);
  }

  private async park(channel: ConfirmChannel, msg: ConsumeMessage, reason: string, attempt: number): Promise<void> {
    await this.republish(channel, this.queues.dlq, msg, {
      [ATTEMPTS_HEADER]: attempt,
      [ERROR_HEADER]: reason.slice(0, 1000),
      [PARKED_AT_HEADER]: new Date().toISOString(),
      [SOURCE_QUEUE_HEADER]: this.queues.main,
    });
    channel.ack(msg);
  }
}

/** The inbox rows of a batch; the ids that were not there yet (each once). */
async function insertInboxRows(trx: Knex.Transaction, events: DomainEvent[], consumer: string): Promise<Set<string>> {
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const inserted: { message_id: string }[] = await trx(INBOX_TABLE)
    .insert(unique.map((e) => ({ message_id: e.id, consumer, type: e.type })))
    .onConflict(['message_id', 'consumer'])
    .ignore()
    .returning('message_id');
  return new Set(inserted.map((r) => r.message_id));
}

/** The message's inbox row; false when it is already there (a redelivery). */
async function insertInboxRow(trx: Knex.Transaction, event: DomainEvent, consumer: string): Promise<boolean> {
  return (await insertInboxRows(trx, [event], consumer)).size > 0;
}

/**
 * The inbox row with the advisory lock taken in the same statement (one round trip, not two).
 * The insert itself reads nothing the lock protects; the handler's statements come after it
 * and take their snapshots with the lock held.
 */
async function insertInboxRowLocked(trx: Knex.Transaction, event: DomainEvent, consumer: string, lockKey: string): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: unknown[] }>(
    `with serialized as (select pg_advisory_xact_lock(hashtextextended(:lockKey, 0)))
     insert into :inbox: (message_id, consumer, type) select :messageId, :consumer, :type from serialized
     on conflict (message_id, consumer) do nothing
     returning message_id`,
    { lockKey, inbox: INBOX_TABLE, messageId: event.id, consumer, type: event.type },
  );
  return rows.length > 0;
}

/** The error of a statement whose inbox row was there already: the message was handled before. */
function isInboxConflict(err: unknown): boolean {
  const e = err as { code?: string; table?: string };
  return e?.code === '23505' && e.table === INBOX_TABLE;
}

function withoutDeathHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (!/^x-(death|first-death|last-death|delivery-count)/.test(k)) out[k] = v;
  return out;
}

function originalRoutingKey(msg: ConsumeMessage): string {
  const h = msg.properties.headers?.['x-original-routing-key'];
  return typeof h === 'string' ? h : msg.fields.routingKey;
}
