import { randomUUID } from 'node:crypto';

const TOKEN = /^[A-Za-z0-9._-]{8,128}$/;

/** API.md: a client's X-Request-Id is echoed if it is a UUID or an 8–128 char token, else a new one is made. */
export function acceptRequestId(candidate: unknown): string {
  if (typeof candidate === 'string' && TOKEN.test(candidate)) return candidate;
  return randomUUID();
}
