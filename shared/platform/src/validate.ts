import type { Request } from 'express';
import type { z } from 'zod';
import { errors, fieldErrorsFromZod } from './errors';

/**
 * Parses one part of a request with its zod schema; a failure is a 400 validation_failed
 * problem with per-field errors (prefixed with the part: body., query., params.).
 */
export function parse<T extends z.ZodType>(schema: T, value: unknown, part: 'body' | 'query' | 'params' | 'headers', status = 400): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw errors.validation(fieldErrorsFromZod(result.error, part), status, `The request ${part} is not valid.`);
  }
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
