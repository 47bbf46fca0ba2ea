import type { IncomingMessage } from 'node:http';

/** True when the declared Content-Length is over the limit (or not a number at all). */
export function declaredBodyTooLarge(req: IncomingMessage, maxBytes: number): boolean {
  const declared = req.headers['content-length'];
  if (declared === undefined) return false;
  const n = Number(declared);
  return !Number.isFinite(n) || n > maxBytes;
}

/**
 * Counts a streamed (chunked) body as it passes through and calls `onExceeded` once when it
 * grows past the limit. A body with a Content-Length needs no counting: node's parser never
 * delivers more than it declared, and the declared size was checked up front.
 */
export function watchBodySize(req: IncomingMessage, maxBytes: number, onExceeded: () => void): void {
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] === undefined) return;
  let bytes = 0;
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      req.off('data', onData);
      onExceeded();
    }
  };
  req.on('data', onData);
}
