import { Writable } from 'node:stream';
import { coalesceWrites } from '../src/sockets';

/** A sink that records what each call of _write / _writev received, as the OS would see the syscalls. */
function recordingSink(highWaterMark = 16 * 1024) {
  const calls: string[][] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { sink, calls };
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('coalesceWrites', () => {
  test('writes made in one turn leave in one call, in order; writes of later turns leave in calls of their own', async () => {
    const { sink, calls } = recordingSink();
    coalesceWrites(sink);
    for (const frame of ['a', 'b', 'c', 'd']) sink.write(frame);
    expect(calls).toEqual([]); // corked until the turn ends
    await nextTurn();
    sink.write('e');
    await nextTurn();
    sink.write('f');
    sink.write('g');
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c', 'd'], ['e'], ['f', 'g']]);
  });

  test('without it every write is a call of its own (what amqplib does to its socket)', async () => {
    const { sink, calls } = recordingSink();
    for (const frame of ['a', 'b', 'c']) sink.write(frame);
    await nextTurn();
    expect(calls).toEqual([['a'], ['b'], ['c']]);
  });

  test("'immediate' also gathers writes made over several ticks of one loop iteration", async () => {
    const { sink, calls } = recordingSink();
    coalesceWrites(sink, 'immediate');
    sink.write('a');
    process.nextTick(() => {
      sink.write('b');
      void Promise.resolve().then(() => sink.write('c'));
    });
    await nextTurn();
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  test('backpressure still shows: write answers false past the high-water mark and drain follows the flush; end() flushes', async () => {
    const { sink, calls } = recordingSink(4);
    coalesceWrites(sink);
    expect(sink.write('ab')).toBe(true);
    expect(sink.write('cdef')).toBe(false);
    const drained = new Promise((r) => sink.once('drain', r));
    await drained;
    expect(calls).toEqual([['ab', 'cdef']]);
    sink.write('x');
    const finished = new Promise((r) => sink.once('finish', r));
    sink.end('y');
    await finished;
    expect(calls).toEqual([['ab', 'cdef'], ['x', 'y']]);
  });

  test('applying it twice wraps once', async () => {
    const { sink, calls } = recordingSink();
    coalesceWrites(sink);
    coalesceWrites(sink);
    sink.write('a');
    sink.write('b');
    await nextTurn();
    expect(calls).toEqual([['a', 'b']]);
    expect(sink.writableCorked).toBe(0);
  });
});
