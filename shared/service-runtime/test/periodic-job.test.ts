import pino from 'pino';
import { eventually, sleep } from '@guitaronline/testing';
import { every } from '../src';

function recordingLogger() {
  const lines: { msg: string; task?: string }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('every', () => {
  test('when a run fails, then it is logged with the task name and the next run still happens', async () => {
    const { logger, lines } = recordingLogger();
    let runs = 0;
    const job = every(5, 'flaky sweep', logger, async () => {
      runs += 1;
      if (runs === 1) throw new Error('database hiccup');
    });
    try {
      await eventually(() => runs >= 2);
      expect(lines).toContainEqual(expect.objectContaining({ task: 'flaky sweep', msg: 'periodic task failed; it will run again' }));
    } finally {
      await job.stop();
    }
  });

  test('when a run takes longer than the interval, then runs never overlap and stop() waits for the one in progress', async () => {
    let active = 0;
    let most = 0;
    let finished = 0;
    const job = every(2, 'slow sweep', recordingLogger().logger, async () => {
      active += 1;
      most = Math.max(most, active);
      await sleep(20);
      active -= 1;
      finished += 1;
    });
    await eventually(() => finished >= 2);
    await job.stop();
    expect(most).toBe(1);
    expect(active).toBe(0);
  });

  test('when runAtStart is set, then the task runs right away; stopped at once, it never runs', async () => {
    let runs = 0;
    const task = async () => void (runs += 1);
    const started = every(60_000, 'catch-up', recordingLogger().logger, task, { runAtStart: true });
    await eventually(() => runs === 1);
    await started.stop();

    runs = 0;
    const stoppedAtOnce = every(60_000, 'catch-up', recordingLogger().logger, task, { runAtStart: true });
    await stoppedAtOnce.stop();
    await new Promise((resolve) => setImmediate(resolve));
    await sleep(10);
    expect(runs).toBe(0);
  });

  test('when the interval is 0, then it never runs by itself but runNow still works', async () => {
    let runs = 0;
    const job = every(0, 'off', recordingLogger().logger, async () => void (runs += 1), { runAtStart: true });
    await sleep(10);
    expect(runs).toBe(0);
    await job.runNow();
    expect(runs).toBe(1);
    await job.stop();
  });
});
