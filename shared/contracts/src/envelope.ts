import { z } from './zod';
import { isoDateTime, uuid } from './primitives';

export const serviceName = z.enum([
  'identity',
  'booking',
  'billing',
  'lessons',
  'notifications',
  'admin',
  'gateway',
]);
export type ServiceName = z.infer<typeof serviceName>;

/** The envelope every message on `guitaronline.events` carries (EVENTS.md). */
export const eventEnvelopeSchema = z.object({
  id: uuid,
  type: z.string().min(1).max(120),
  version: z.number().int().positive(),
  occurredAt: isoDateTime,
  source: serviceName,
  correlationId: z.string().min(1).max(128),
  causationId: uuid.nullable(),
  aggregateId: z.string().min(1).max(200),
  payload: z.record(z.string(), z.unknown()),
});

export type EventEnvelope<TType extends string = string, TPayload = Record<string, unknown>> = Omit<
  z.infer<typeof eventEnvelopeSchema>,
  'type' | 'payload'
> & { type: TType; payload: TPayload };
