import type { Writable } from 'node:stream';

const coalescing = new WeakSet<Writable>();

/**
 * Makes the writes one turn of the event loop puts on `stream` leave together: the first write
 * of a turn corks the stream and the flush is scheduled for the end of the turn, so N writes
 * become one `writev` (one syscall, one segment on a socket with Nagle off) instead of N.
 *
 * For clients that write every protocol frame on its own: amqplib's connection writes each
 * frame (every ack, every publish) with its own `socket.write`, so a consumer acking a batch or
 * a relay publishing one made a syscall — and woke the broker — per frame. Nothing waits for a
 * timer: `tick` flushes when the current callback and its `process.nextTick` queue are done,
 * `immediate` at the end of the loop iteration (for writers that produce one message over
 * several ticks, as a piped stream does). Backpressure is unchanged: `write` still returns false
 * once the corked data passes the high-water mark, and `end()` flushes whatever is corked.
 *
 * Idempotent per stream.
 */
export function coalesceWrites(stream: Writable, flushOn: 'tick' | 'immediate' = 'tick'): void {
  if (coalescing.has(stream)) return;
  coalescing.add(stream);
  const write = stream.write;
  let corked = false;
  const flush = () => {
    corked = false;
    if (stream.writableCorked > 0) stream.uncork();
  };
  stream.write = function coalescedWrite(this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked && !stream.writableEnded) {
      corked = true;
      stream.cork();
      if (flushOn === 'tick') process.nextTick(flush);
      else setImmediate(flush);
    }
    return write.apply(this, args);
  } as Writable['write'];
}
