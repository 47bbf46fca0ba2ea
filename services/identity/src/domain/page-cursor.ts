import { z } from 'zod';
import { errors } from '@guitaronline/platform';

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?Z$/;

/** A real UTC instant (no 30 February, no hour 25): Postgres must never be the one to refuse it. */
function isRealInstant(value: string): boolean {
  const m = TIMESTAMP.exec(value);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    y >= 1970 &&
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s
  );
}

const cursorSchema = z.strictObject({
  createdAt: z.string().max(40).refine(isRealInstant),
  id: z.uuid(),
});
export type PageKey = z.infer<typeof cursorSchema>;

/** Opaque to clients: base64url JSON of the last row's (created_at, id). */
export function encodeCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): PageKey {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw errors.validation([{ path: 'query.cursor', message: 'not a cursor this list gave out' }]);
  }
}
