import type { Logger } from 'pino';
import { Wakeup } from '@guitaronline/platform';
import { backoffDelayMs, type BackoffPolicy } from './backoff';
import { addMs, type Clock } from './clock';
import { ChannelPausedError, type ClaimedDelivery, type DeliveryChannels, type DeliveryStore } from './delivery';

/** How many scans' worth of handed-over sends may wait before new e-mails are left to the scans. */
const HANDED_OVER_SCANS = 10;

export interface DeliveryOutcomeListener {
  sent(channel: string): void;
  failed(channel: string): void;
  dead(channel: string): void;
  postponed(channel: string): void;
}

export interface DeliveryWorkerOptions {
  store: DeliveryStore;
  channels: DeliveryChannels;
  clock: Clock;
  logger: Logger;
  maxAttempts: number;
  backoff: BackoffPolicy;
  intervalMs: number;
  batchSize: number;
  leaseMs: number;
  outcomes?: DeliveryOutcomeListener;
  random?: () => number;
}

/**
 * The in-process delivery worker. The schedule lives in the database, so any number of
 * replicas can run it: each scan claims due rows with FOR UPDATE SKIP LOCKED (status
 * `sending`, a lease and a claim token), sends them, then marks each row in its own
 * transaction — sent, failed with the next attempt time (exponential backoff with jitter),
 * or dead after `maxAttempts`. A row whose worker died mid-send becomes claimable again when
 * its lease runs out (the one window in which a message can go out twice).
 */
export class DeliveryWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  /** Sends of deliveries handed over already claimed (deliverClaimed), until each is marked. */
  private readonly handedOver = new Set<Promise<void>>();

  constructor(private readonly options: DeliveryWorkerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in flight and what was handed over (every send started is marked), then stops. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    await Promise.all(this.handedOver);
  }

  /**
   * A lease for e-mails claimed in the transaction that makes them, so they go out as soon as
   * it commits (deliverClaimed) without a scan claiming them in a second write. Null — make them
   * pending, for a scan — while the worker is stopped, e-mail is paused (its breaker is open), or
   * more handed-over sends are waiting than a few scans' worth: a backlog is claimed scan by scan,
   * so no lease runs out while its mail still waits in memory here.
   */
  claimAtInsert(): { leaseUntil: Date } | null {
    const { channels, clock, leaseMs, batchSize } = this.options;
    if (!this.running || this.handedOver.size >= batchSize * HANDED_OVER_SCANS || channels.paused().email) return null;
    return { leaseUntil: addMs(clock(), leaseMs) };
  }

  /**
   * Sends deliveries a committed transaction claimed for this worker (claimAtInsert), each marked
   * as a scan's are. A worker already stopped leaves them claimed: their lease runs out and a scan
   * (of the next start, or of another replica) sends them, without an attempt spent on a closing
   * transport.
   */
  deliverClaimed(deliveries: readonly ClaimedDelivery[]): void {
    if (!this.running) return;
    for (const delivery of deliveries) {
      const sending = this.deliver(delivery);
      this.handedOver.add(sending);
      void sending.finally(() => this.handedOver.delete(sending));
    }
  }

  /** Called after a commit that made rows due (new notifications, a recipient's address). */
  wake(): void {
    this.wakeup.wake();
  }

  private async run(): Promise<void> {
    const { intervalMs, batchSize, logger, store, channels, clock } = this.options;
    let failures = 0;
    while (this.running) {
      this.wakeup.reset();
      try {
        const claimed = await this.runOnce();
        failures = 0;
        if (claimed === batchSize) continue;
        const next = await store.nextDueAt(channels.paused());
        const untilNext = next ? next.getTime() - clock().getTime() : intervalMs;
        await this.wakeup.sleep(Math.min(intervalMs, Math.max(untilNext, 1)));
      } catch (err) {
        failures += 1;
        logger.warn({ err: (err as Error).message }, 'delivery scan failed; retrying');
        this.wakeup.reset();
        await this.wakeup.sleep(Math.min(intervalMs * 5, 50 * 2 ** Math.min(failures, 8)));
      }
    }
  }

  /** One scan: claims up to a batch of due deliveries and delivers them concurrently. */
  async runOnce(): Promise<number> {
    const { store, channels, clock, batchSize, leaseMs } = this.options;
    const now = clock();
    const claimed = await store.claimDue({ now, leaseUntil: addMs(now, leaseMs), limit: batchSize, paused: channels.paused() });
    await Promise.all(claimed.map((d) => this.deliver(d)));
    return claimed.length;
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { channels, store, clock, logger, outcomes } = this.options;
    const log = logger.child({ deliveryId: delivery.id, channel: delivery.channel, eventId: delivery.eventId });
    try {
      await channels.send(delivery);
    } catch (err) {
      await this.recordFailure(delivery, err, log);
      return;
    }
    // The receiver acknowledged: mark at once. If the database is briefly unreachable, try a
    // few more times — giving up here is the duplicate window (the lease expires, it is resent).
    for (let attempt = 1; ; attempt += 1) {
      try {
        const marked = await store.markSent(delivery, clock());
        if (!marked) log.warn('delivery was sent but its claim had been lost (canceled or lease expired)');
        outcomes?.sent(delivery.channel);
        return;
      } catch (err) {
        if (attempt >= 5) {
          log.error({ err }, 'delivery sent but could not be marked; it will be retried after its lease');
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  private async recordFailure(delivery: ClaimedDelivery, err: unknown, log: Logger): Promise<void> {
    const { store, channels, clock, outcomes, maxAttempts, backoff, random } = this.options;
    const now = clock();
    try {
      if (err instanceof ChannelPausedError) {
        await store.postpone(delivery, { now, until: addMs(now, channels.pauseMs), reason: err.message });
        outcomes?.postponed(delivery.channel);
        return;
      }
      const attempts = delivery.attempts + 1;
      const error = describeError(err);
      const dead = attempts >= maxAttempts;
      const nextAttemptAt = dead ? null : addMs(now, backoffDelayMs(attempts, backoff, random));
      const marked = await store.markFailed(delivery, { now, error, nextAttemptAt });
      if (!marked) return;
      outcomes?.failed(delivery.channel);
      if (dead) {
        outcomes?.dead(delivery.channel);
        log.warn({ attempts, error }, 'delivery dead-lettered');
      } else {
        log.info({ attempts, error, nextAttemptAt }, 'delivery failed; retry scheduled');
      }
    } catch (markErr) {
      // the row stays claimed; its lease expiry makes it due again
      log.error({ err: markErr }, 'could not record a delivery failure');
    }
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const e = err as Error & { code?: string; responseCode?: number };
    const prefix = [e.code, e.responseCode].filter((v) => v !== undefined).join(' ');
    return (prefix ? `${prefix}: ${e.message}` : e.message).slice(0, 1000);
  }
  return String(err).slice(0, 1000);
}
