import type { Logger } from '@guitaronline/platform';

/**
 * Runs `task` every `intervalMs` (0 = never), one run at a time; a failing run is logged and
 * the next one tries again. `stop()` waits for a run in progress.
 */
export function every(intervalMs: number, name: string, logger: Logger, task: () => Promise<unknown>): { stop(): Promise<void>; runNow(): Promise<void> } {
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
  const timer = intervalMs > 0 ? setInterval(() => void (stopped ? undefined : runNow()), intervalMs) : undefined;
  timer?.unref();
  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
