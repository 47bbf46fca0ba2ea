import { MicroBatcher } from '../src/lifecycle';

describe('MicroBatcher', () => {
  test('the first call is flushed alone at once; calls made during a flush go together in the next, each gets its own answer', async () => {
    const flushed: number[][] = [];
    let release: () => void = () => undefined;
    const batcher = new MicroBatcher<number, string>(async (inputs) => {
      flushed.push(inputs);
      if (flushed.length === 1) await new Promise<void>((r) => (release = r));
      return inputs.map((n) => `out-${n}`);
    });
    const first = batcher.submit(1);
    const rest = [batcher.submit(2), batcher.submit(3), batcher.submit(4)];
    await new Promise((r) => setImmediate(r));
    expect(flushed).toEqual([[1]]);
    release();
    await expect(first).resolves.toBe('out-1');
    await expect(Promise.all(rest)).resolves.toEqual(['out-2', 'out-3', 'out-4']);
    expect(flushed).toEqual([[1], [2, 3, 4]]);
  });

  test('a batch is at most maxBatch; a failed flush rejects only the calls in it', async () => {
    const flushed: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      flushed.push(inputs);
      if (inputs.includes(3)) throw new Error('boom');
      return inputs.map((n) => n * 10);
    }, 2);
    const calls = [1, 2, 3, 4, 5].map((n) => batcher.submit(n));
    const settled = await Promise.allSettled(calls);
    expect(flushed).toEqual([[1], [2, 3], [4, 5]]);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : 'rejected'))).toEqual([10, 'rejected', 'rejected', 40, 50]);
  });

  test('with lingerMs, a batch waits until its oldest call is that old, so later calls join it; a full batch goes at once', async () => {
    const flushed: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      flushed.push(inputs);
      return inputs.map((n) => n + 1);
    }, 3, 1_500); // a linger long enough that a loaded CI box cannot pass for it
    const started = Date.now();
    const first = batcher.submit(1);
    await new Promise((r) => setTimeout(r, 20));
    const second = batcher.submit(2);
    await new Promise((r) => setImmediate(r));
    expect(flushed).toEqual([]); // still lingering
    await expect(Promise.all([first, second])).resolves.toEqual([2, 3]);
    expect(flushed).toEqual([[1, 2]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_495);

    // three waiting (maxBatch) leave without lingering; the fourth lingers on its own
    const atOnce = Date.now();
    const full = [4, 5, 6, 7].map((n) => batcher.submit(n));
    await expect(Promise.all(full.slice(0, 3))).resolves.toEqual([5, 6, 7]);
    expect(Date.now() - atOnce).toBeLessThan(1_000); // well under the linger
    await expect(full[3]).resolves.toBe(8);
    expect(flushed).toEqual([[1, 2], [4, 5, 6], [7]]);
  });
});
