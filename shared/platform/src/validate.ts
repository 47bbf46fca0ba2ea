import type { Request } from 'express';
import type { z } from 'zod';
import { errors, fieldErrorsFromZod, type FieldError } from './errors';

/**
 * Where a value holds a string with U+0000 in it, by field path: Postgres text cannot store
 * that character (it refuses the statement), so such input is refused here, as bad input.
 */
function nulCharacters(value: unknown, path: string, found: FieldError[] = []): FieldError[] {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) found.push({ path, message: 'must not contain the NUL character (U+0000)' });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => nulCharacters(item, `${path}.${i}`, found));
  } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) nulCharacters(item, `${path}.${key}`, found);
  }
  return found;
}

/**
 * Parses one part of a request with its zod schema; a failure is a 400 validation_failed
 * problem with per-field errors (prefixed with the part: body., query., params.). A string
 * that passes its schema but holds U+0000 fails the same way.
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, part: 'body' | 'query' | 'params' | 'headers', status = 400): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw errors.validation(fieldErrorsFromZod(result.error, part), status, `The request ${part} is not valid.`);
  }
  const nul = nulCharacters(result.data, part);
  if (nul.length > 0) throw errors.validation(nul, 400, `The request ${part} is not valid.`);
  return result.data;
}

export function parseBody<T extends z.ZodType>(req: Request, schema: T, status = 400): z.infer<T> {
  return parse(schema, req.body ?? {}, 'body', status);
}

export function parseQuery<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  return parse(schema, req.query, 'query');
}

export function parseParams<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  return parse(schema, req.params, 'params');
}
