import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { ConfigError } from './config';

export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * The sleep of a background loop that `wake()` ends early. A wake while the loop is busy is kept:
 * the next sleep returns at once, unless the loop called `reset()` at the top of its round.
 */
export class Wakeup {
  private woken = false;
  private endSleep: (() => void) | undefined;

  wake(): void {
    this.woken = true;
    this.endSleep?.();
  }

  /** Forgets wakes that came before this round. */
  reset(): void {
    this.woken = false;
  }

  async sleep(ms: number): Promise<void> {
    if (this.woken || ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.endSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.endSleep = undefined;
  }
}

/**
 * Turns single calls into batches. By default without waiting on a timer: the first call is
 * flushed at once, alone; calls made while a flush runs wait for it and go together in the next
 * one (up to `maxBatch`). Under load the batches grow by themselves; a quiet caller waits for
 * nothing. With `lingerMs`, a batch that is not full waits until its oldest call is that old
 * before it is flushed, so more calls join it: fewer, larger flushes for writes nobody waits on
 * (bookkeeping after the fact), at the price of that much lag.
 * `flush` answers each input by position; when it rejects, every call in that batch rejects.
 */
export class MicroBatcher<I, O> {
  private readonly waiting: { input: I; at: number; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private flushing = false;
  /** Ends the linger early (the batch filled up). */
  private stopLingering: (() => void) | undefined;

  constructor(
    private readonly flush: (inputs: I[]) => Promise<O[]>,
    private readonly maxBatch = 500,
    private readonly lingerMs = 0,
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, at: this.lingerMs > 0 ? Date.now() : 0, resolve, reject });
      if (!this.flushing) void this.run();
      else if (this.waiting.length >= this.maxBatch) this.stopLingering?.();
    });
  }

  private linger(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.stopLingering?.(), ms);
      this.stopLingering = () => {
        clearTimeout(timer);
        this.stopLingering = undefined;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    this.flushing = true;
    while (this.waiting.length > 0) {
      const wait = this.waiting.length < this.maxBatch ? this.waiting[0]!.at + this.lingerMs - Date.now() : 0;
      if (this.lingerMs > 0 && wait > 0) await this.linger(wait);
      const batch = this.waiting.splice(0, this.maxBatch);
      try {
        const outs = await this.flush(batch.map((b) => b.input));
        batch.forEach((b, i) => b.resolve(outs[i] as O));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
  }
}

/** Closes an HTTP server: stop accepting, end idle keep-alive sockets, wait for in-flight requests. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}

/**
 * Runs a service's `start()` as a process: SIGTERM/SIGINT call `stop()` with a forced-exit
 * timeout; a ConfigError prints the offending variables and exits 1 without a stack trace.
 */
export async function runService(
  name: string,
  start: () => Promise<Stoppable>,
  options: { logger?: Logger; shutdownTimeoutMs?: number } = {},
): Promise<void> {
  let running: Stoppable;
  try {
    running = await start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
    } else {
      process.stderr.write(`${name}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      options.logger?.error({ err }, 'start failed');
    }
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.logger?.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      process.stderr.write(`${name}: shutdown took too long, exiting\n`);
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 10_000);
    timer.unref();
    running
      .stop()
      .then(() => process.exit(0))
      .catch((err) => {
        options.logger?.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => options.logger?.error({ err: reason }, 'unhandled rejection'));
}
