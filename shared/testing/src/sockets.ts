import type { Socket } from 'node:net';

/**
 * Counts what reaches a socket's handle: `calls` is one per system call (a write or a writev),
 * `chunks` the pieces they carried. For tests of how many writes a protocol client makes.
 */
export function countSocketWrites(socket: Socket): { calls: number; chunks: number } {
  const counts = { calls: 0, chunks: 0 };
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...args) => {
    counts.calls += 1;
    counts.chunks += 1;
    write(...args);
  };
  s._writev = (chunks, cb) => {
    counts.calls += 1;
    counts.chunks += chunks.length;
    writev(chunks, cb);
  };
  return counts;
}
