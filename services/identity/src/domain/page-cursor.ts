import { z } from 'zod';
import { errors } from '@guitaronline/platform';

const cursorSchema = z.object({
  createdAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/),
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
