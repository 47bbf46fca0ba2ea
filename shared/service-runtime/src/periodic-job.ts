import type { Logger } from '@guitaronline/platform';

export interface PeriodicJob {
  /** Runs the task now, or joins the run in progress. */
  runNow(): Promise<void>;
  /** No further runs; waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs` (0 = never), one run at a time; a failing run is logged and
 * the next one tries again. `runAtStart` also runs it once right away (a catch-up with what
 * became due while no replica ran), unless the job is stopped first.
 */
export function every(intervalMs: number, name: string, logger: Logger, task: () => Promise<unknown>, options: { runAtStart?: boolean } = {}): PeriodicJob {
  let running: Promise<void> | undefined;
  let stopped = false;
  const runNow = () => {
    if (running) return running;
    running = task()
      .then(() => undefined)
      .catch((err) => logger.warn({ err, task: name }, 'periodic task failed; it will run again'))
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const tick = () => void (stopped ? undefined : runNow());
  const timer = intervalMs > 0 ? setInterval(tick, intervalMs) : undefined;
  timer?.unref();
  if (timer && options.runAtStart) setImmediate(tick);
  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
