import { randomUUID } from 'node:crypto';
import { EventSchemaError, eventCatalogue, eventTypes, parseEvent, validatePayload } from '../src';

describe('event catalogue', () => {
  test('every type in the catalogue names its producer and a first version', () => {
    for (const type of eventTypes) {
      const entry = eventCatalogue[type];
      const prefix: Record<string, string> = { lessons: 'lesson', notifications: 'notification' };
      expect(type.startsWith(`${prefix[entry.producer] ?? entry.producer}.`)).toBe(true);
      expect(entry.version).toBe(1);
    }
  });

  test('a valid envelope parses; an unknown type, an unknown version and a bad payload are schema errors', () => {
    const userId = randomUUID();
    const envelope = {
      id: randomUUID(),
      type: 'identity.user.registered',
      version: 1,
      occurredAt: new Date().toISOString(),
      source: 'identity',
      correlationId: 'req-12345678',
      causationId: null,
      aggregateId: userId,
      payload: { userId, email: 'a@b.test', role: 'student', fullName: 'A B', extra: 'ignored' },
    };
    expect(parseEvent(envelope).payload).toEqual({ userId, email: 'a@b.test', role: 'student', fullName: 'A B' });
    expect(() => parseEvent({ ...envelope, type: 'identity.user.deleted' })).toThrow(EventSchemaError);
    expect(() => parseEvent({ ...envelope, version: 2 })).toThrow(/unsupported version/);
    expect(() => parseEvent({ ...envelope, payload: { ...envelope.payload, role: 'root' } })).toThrow(/invalid payload/);
    expect(() => parseEvent({ ...envelope, id: 'nope' })).toThrow(/invalid envelope/);
  });

  test('producers are refused a payload that breaks the schema', () => {
    expect(() => validatePayload('billing.lesson.debit_rejected', { bookingId: randomUUID(), reason: 'because' })).toThrow(EventSchemaError);
  });
});
