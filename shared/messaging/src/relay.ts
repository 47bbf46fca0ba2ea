import type { ConfirmChannel } from 'amqplib';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { prom, Wakeup } from '@guitaronline/platform';
import type { BrokerConnection } from './connection';
import { OUTBOX_TABLE, INBOX_TABLE, outboxSignal, type CommittedBatch, type OutboxRow } from './outbox';
import { declareExchange } from './topology';

export interface RelayOptions {
  service: string;
  knex: Knex;
  connection: BrokerConnection;
  exchange: string;
  logger: Logger;
  metrics?: Registry;
  /** Rows claimed per transaction; all of a batch are in flight (confirms) at once. */
  batchSize?: number;
  /** Fallback poll for rows another replica left behind or a crash left unpublished. */
  pollIntervalMs?: number;
  outboxRetentionHours?: number;
  inboxRetentionHours?: number;
  purgeIntervalMs?: number;
  /** A batch whose confirms do not all arrive in time is rolled back and retried. */
  confirmTimeoutMs?: number;
  /**
   * Publish the rows this process just committed straight from memory (default true). The
   * poll then claims only rows older than `orphanAfterMs`: those whose writer died, or whose
   * fast publish failed. With it off, every commit wakes a claiming poll.
   */
  fastPath?: boolean;
  orphanAfterMs?: number;
}

type ClaimedRow = OutboxRow;

/**
 * Published rows are marked with one UPDATE (one commit) per this many ids or this many ms,
 * whichever first. The window is what a crash can publish twice (consumers are idempotent);
 * the poll leaves rows alone for `orphanAfterMs`, far longer, so nothing else sees the delay.
 */
const MARK_BATCH = 500;
const MARK_EVERY_MS = 100;

/** Rows kept in memory for the fast path at most; past that the poll picks them up. */
const MAX_FAST_QUEUE = 10_000;

/**
 * Publishes outbox rows to RabbitMQ with publisher confirms, a whole batch in flight before
 * the confirms are awaited.
 * - Fast path: the rows a transaction of this process wrote are handed over when it commits,
 *   published from memory, then marked published with one UPDATE — no read-back, no claiming
 *   transaction, so the commit→publish hop costs a publish and a write.
 * - Poll (the fallback, every `pollIntervalMs`): claims rows older than `orphanAfterMs` with
 *   `FOR UPDATE SKIP LOCKED` (replicas never publish the same row), publishes them and marks
 *   them in the claiming transaction — rows a crashed process or another replica left behind.
 * Delivery is at least once: a process that dies between publishing and marking has its rows
 * published again by a poll; consumers are idempotent.
 */
export class OutboxRelay {
  private channel: ConfirmChannel | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly fastQueue: ClaimedRow[] = [];
  private readonly unmarked: string[] = [];
  private lastPoll = 0;
  private lastMark = 0;
  private readonly onCommitted = (batch: CommittedBatch) => {
    if (batch.taken || batch.config !== this.options.knex.client.config) return;
    batch.taken = true; // one relay per commit, however many run in this process
    if (this.options.fastPath === false) {
      this.wake();
      return;
    }
    if (this.fastQueue.length + batch.rows.length <= MAX_FAST_QUEUE) this.fastQueue.push(...batch.rows);
    this.wake();
  };
  private readonly onConnected = () => this.wake();
  private readonly published: prom.Counter | undefined;
  private readonly failures: prom.Counter | undefined;

  constructor(private readonly options: RelayOptions) {
    const { metrics, knex } = options;
    if (metrics) {
      this.published = new prom.Counter({ name: 'outbox_published_total', help: 'Outbox events published with a broker confirm', registers: [metrics] });
      this.failures = new prom.Counter({ name: 'outbox_publish_failures_total', help: 'Relay batches that failed and were left for a retry', registers: [metrics] });
      new prom.Gauge({
        name: 'outbox_pending',
        help: 'Outbox rows not yet published',
        registers: [metrics],
        async collect() {
          const stats = await outboxBacklog(knex).catch(() => undefined);
          if (stats) this.set(stats.pending);
        },
      });
      new prom.Gauge({
        name: 'outbox_oldest_pending_seconds',
        help: 'Age of the oldest unpublished outbox row',
        registers: [metrics],
        async collect() {
          const stats = await outboxBacklog(knex).catch(() => undefined);
          if (stats) this.set(stats.oldestPendingSeconds);
        },
      });
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    outboxSignal.on('committed', this.onCommitted);
    this.options.connection.on('connected', this.onConnected);
    this.loop = this.run();
    const purgeEvery = this.options.purgeIntervalMs ?? 10 * 60_000;
    this.purgeTimer = setInterval(() => void this.purge().catch((err) => this.options.logger.warn({ err }, 'outbox purge failed')), purgeEvery);
    this.purgeTimer.unref();
  }

  /** Stops after the batch in flight; rows not yet published stay for the next start. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    outboxSignal.off('committed', this.onCommitted);
    this.options.connection.off('connected', this.onConnected);
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.wake();
    await this.loop;
    // rows published but not yet marked: mark them now rather than have them published again
    await this.markPublished().catch(() => undefined);
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  wake(): void {
    this.wakeup.wake();
  }

  private async run(): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    const poll = this.options.pollIntervalMs ?? 1_000;
    const fast = this.options.fastPath !== false;
    const orphanAfterMs = fast ? (this.options.orphanAfterMs ?? 5_000) : 0;
    let failures = 0;
    let draining = false;
    while (this.running) {
      this.wakeup.reset();
      try {
        // marking is coalesced: one UPDATE for what was published in the last few ms
        if (this.unmarked.length >= MARK_BATCH || (this.unmarked.length > 0 && Date.now() - this.lastMark >= MARK_EVERY_MS)) await this.markPublished();
        if (fast && this.fastQueue.length > 0) {
          await this.publishFast(batchSize);
          failures = 0;
          continue;
        }
        if (!fast || Date.now() - this.lastPoll >= poll) {
          this.lastPoll = Date.now();
          // a backlog (a full batch last time): two claiming transactions in flight, SKIP LOCKED keeps them apart
          const claims = draining ? 2 : 1;
          const counts = await Promise.all(Array.from({ length: claims }, () => this.publishBatch(batchSize, orphanAfterMs)));
          const count = Math.max(...counts);
          draining = count === batchSize;
          failures = 0;
          if (count === batchSize) {
            this.lastPoll = 0; // more may be waiting
            continue;
          }
        }
        const untilPoll = poll - (Date.now() - this.lastPoll);
        const untilMark = this.unmarked.length > 0 ? MARK_EVERY_MS - (Date.now() - this.lastMark) : Infinity;
        await this.wakeup.sleep(fast ? Math.max(1, Math.min(untilPoll, untilMark)) : poll);
      } catch (err) {
        failures += 1;
        this.failures?.inc();
        this.options.logger.warn({ err: (err as Error).message }, 'outbox relay batch failed; retrying');
        this.wakeup.reset();
        await this.wakeup.sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** Publishes rows this process committed, from memory, then marks them. */
  private async publishFast(batchSize: number): Promise<void> {
    const channel = await this.getChannel();
    if (!channel) throw new Error('broker not connected');
    const rows = this.fastQueue.splice(0, batchSize);
    try {
      await this.publishRows(channel, rows);
    } catch (err) {
      this.fastQueue.unshift(...rows);
      throw err;
    }
    this.published?.inc(rows.length);
    this.unmarked.push(...rows.map((r) => r.id));
  }

  private async markPublished(): Promise<void> {
    if (this.unmarked.length === 0) return;
    this.lastMark = Date.now();
    const ids = this.unmarked.splice(0);
    try {
      const { knex } = this.options;
      await knex(OUTBOX_TABLE).whereIn('id', ids).whereNull('published_at').update({ published_at: knex.fn.now() });
    } catch (err) {
      this.unmarked.unshift(...ids);
      throw err;
    }
  }

  private async getChannel(): Promise<ConfirmChannel | undefined> {
    if (this.channel) return this.channel;
    const model = this.options.connection.current;
    if (!model) return undefined;
    const channel = await model.createConfirmChannel();
    channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, 'relay channel error'));
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    await declareExchange(channel, this.options.exchange);
    this.channel = channel;
    return channel;
  }

  /** Claims, publishes and marks one batch of rows older than `minAgeMs`; returns how many it published. */
  async publishBatch(batchSize: number, minAgeMs = 0): Promise<number> {
    const channel = await this.getChannel();
    if (!channel) return 0;
    const { knex } = this.options;
    return knex.transaction(async (trx) => {
      let query = trx(OUTBOX_TABLE).select('id', 'type', 'envelope').whereNull('published_at');
      if (minAgeMs > 0) query = query.andWhere('created_at', '<', trx.raw('now() - make_interval(secs => ?)', [minAgeMs / 1000]));
      const rows: ClaimedRow[] = await query.orderBy('seq').limit(batchSize).forUpdate().skipLocked();
      if (rows.length === 0) return 0;
      await this.publishRows(channel, rows);
      await trx(OUTBOX_TABLE)
        .whereIn(
          'id',
          rows.map((r) => r.id),
        )
        .update({ published_at: trx.fn.now() });
      this.published?.inc(rows.length);
      return rows.length;
    });
  }

  /** Publishes rows with every confirm in flight at once; resolves when all are confirmed. */
  private async publishRows(channel: ConfirmChannel, rows: ClaimedRow[]): Promise<void> {
    const { exchange } = this.options;
    const confirms: Promise<void>[] = [];
    for (const row of rows) {
      const env = row.envelope;
      let accepted = true;
      const confirm = new Promise<void>((resolve, reject) => {
        accepted = channel.publish(
          exchange,
          row.type,
          Buffer.from(JSON.stringify(env)),
          {
            persistent: true,
            contentType: 'application/json',
            messageId: env.id,
            type: env.type,
            correlationId: env.correlationId,
            timestamp: Math.floor(Date.parse(env.occurredAt) / 1000),
            appId: this.options.service,
          },
          (err) => (err ? reject(err instanceof Error ? err : new Error('publish nacked by broker')) : resolve()),
        );
      });
      confirm.catch(() => undefined); // observed below by Promise.all
      confirms.push(confirm);
      // back-pressure: when the socket buffer is full, wait for drain before writing more
      if (!accepted) await waitForDrain(channel);
    }
    await withDeadline(Promise.all(confirms), this.options.confirmTimeoutMs ?? 30_000, 'publisher confirms');
  }

  /** Deletes published outbox rows and old inbox rows past their retention (DESIGN.md rule 12). */
  async purge(): Promise<{ outbox: number; inbox: number }> {
    const { knex } = this.options;
    const outboxHours = this.options.outboxRetentionHours ?? 72;
    const inboxHours = this.options.inboxRetentionHours ?? 168;
    const outbox = await knex(OUTBOX_TABLE)
      .whereNotNull('published_at')
      .andWhere('published_at', '<', knex.raw(`now() - make_interval(secs => ?)`, [outboxHours * 3600]))
      .delete();
    const inbox = await knex(INBOX_TABLE)
      .where('received_at', '<', knex.raw(`now() - make_interval(secs => ?)`, [inboxHours * 3600]))
      .delete();
    return { outbox, inbox };
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function waitForDrain(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      channel.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      channel.off('drain', onDrain);
      reject(new Error('channel closed while waiting for drain'));
    };
    channel.once('drain', onDrain);
    channel.once('close', onClose);
  });
}

/** Backlog figures for metrics and the admin ops overview. */
export async function outboxBacklog(knex: Knex): Promise<{ pending: number; oldestPendingSeconds: number }> {
  const row = await knex(OUTBOX_TABLE)
    .whereNull('published_at')
    .select(knex.raw('count(*)::int as pending'), knex.raw('coalesce(extract(epoch from now() - min(created_at)), 0)::float as oldest'))
    .first();
  return { pending: Number(row?.pending ?? 0), oldestPendingSeconds: Number(row?.oldest ?? 0) };
}
