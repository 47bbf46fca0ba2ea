import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** What the gateway asks of a limiter: rate-limiter-flexible's consume (resolves allowed, rejects a RateLimiterRes when over). */
export interface Limiter {
  readonly points: number;
  readonly duration: number;
  consume(key: string): Promise<RateLimiterRes>;
}

export interface SyncedLimiterOptions {
  /** A key's requests counted here are added to the shared count once this many have gathered. */
  syncEvery: number;
  /** …and at the latest this often, so a quiet key's requests reach the shared count too. */
  syncMs: number;
  /** A sync that failed outright (the shared limiter had no answer, not even its fallback). */
  onSyncError(err: unknown): void;
}

/**
 * A fixed-window limit counted in this process and reconciled with the shared count (Redis)
 * every `syncEvery` requests of a key, and every `syncMs` for keys with requests not yet added:
 * the "consume with periodic sync" pattern of rate-limiter-flexible's author (its wiki;
 * animir/node-rate-limiter-flexible#308), the way Kong (`sync_rate`) and APISIX (`sync_interval`)
 * spare Redis a round trip per request.
 *
 * - A key's first request here goes to the shared count at once, and so does every
 *   `syncEvery`-th: that request waits for the answer and is refused if the shared count is
 *   over the limit; the others are decided here, from the shared count as of the last sync
 *   plus what this process has let through since.
 * - With one replica the limit is exact. With several, each may let through at most
 *   `syncEvery − 1` requests the others have not heard of yet: at most
 *   replicas × (syncEvery − 1) over the limit per window (0 with `syncEvery` 1, which sends
 *   every request to Redis as the plain limiter does).
 * - When Redis does not answer, the shared limiter's own fallback (the per-replica insurance
 *   limiter) answers the sync; requests are never held up by it.
 */
export class SyncedLimiter implements Limiter {
  readonly points: number;
  readonly duration: number;
  private readonly local: RateLimiterMemory;
  /** Requests let through here and not yet added to the shared count, by key. */
  private readonly unsynced = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly options: SyncedLimiterOptions,
  ) {
    this.points = shared.points;
    this.duration = shared.duration;
    this.local = new RateLimiterMemory({ points: shared.points, duration: shared.duration });
    this.timer = setInterval(() => void this.flush(), options.syncMs).unref();
  }

  async consume(key: string): Promise<RateLimiterRes> {
    const known = this.unsynced.has(key) || (await this.local.get(key)) !== null;
    const res = await this.local.consume(key); // rejects with the RateLimiterRes when over
    const pending = (this.unsynced.get(key) ?? 0) + 1;
    if (known && pending < this.options.syncEvery) {
      this.unsynced.set(key, pending);
      return res;
    }
    this.unsynced.delete(key);
    return this.sync(key, pending);
  }

  /** Adds `points` of this process to the shared count and takes the shared count as this process's own. */
  private async sync(key: string, points: number): Promise<RateLimiterRes> {
    let shared: RateLimiterRes;
    let over = false;
    try {
      shared = await this.shared.consume(key, points);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      shared = err;
      over = true;
    }
    // requests let through while the answer was on its way are still in `unsynced` and counted at the next sync
    const consumed = shared.consumedPoints + (this.unsynced.get(key) ?? 0);
    const msBeforeNext = Math.max(shared.msBeforeNext, 1);
    await this.local.set(key, consumed, msBeforeNext / 1000);
    const res = new RateLimiterRes(Math.max(this.points - consumed, 0), msBeforeNext, consumed);
    if (over) throw res;
    return res;
  }

  /** Every key's requests not yet added go to the shared count (the periodic sync). */
  async flush(): Promise<void> {
    const due = [...this.unsynced];
    this.unsynced.clear();
    await Promise.all(
      due.map(([key, points]) =>
        this.sync(key, points).catch((err: unknown) => {
          if (!(err instanceof RateLimiterRes)) this.options.onSyncError(err);
        }),
      ),
    );
  }

  /** Stops the periodic sync after adding what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
