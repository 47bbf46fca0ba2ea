import { z } from './zod';

export const uuid = z.uuid();
export const isoDateTime = z.iso.datetime({ offset: true });
export const role = z.enum(['student', 'teacher', 'admin']);
export type Role = z.infer<typeof role>;
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'a 3-letter ISO 4217 code in capitals');
export const cents = z.number().int().nonnegative().max(1_000_000_000);
