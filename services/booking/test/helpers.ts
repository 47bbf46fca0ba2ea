import { randomUUID } from 'node:crypto';
import { apiCall, captureMessages, deleteBus, eventPublisher, eventually, isolatedBus, privateDatabase, startTestIssuer, testEnv, type ApiCallOptions, type ApiResponse, type PrivateDatabase, type TestIssuer } from '@guitaronline/testing';
import type { EventPayload, EventType, ServiceName } from '@guitaronline/contracts';
import { start, type BookingService } from '../src/main';

/** A clock that runs with real time (from a chosen offset) and can be moved forward: time rules are tested without sleeping. */
export function testClock(epochOffsetMs = 0) {
  let offset = epochOffsetMs;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms: number) {
      offset += ms;
    },
  };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const YEAR = 365 * DAY;

export interface Harness {
  svc: BookingService;
  database: PrivateDatabase;
  issuer: TestIssuer;
  bus: ReturnType<typeof isolatedBus>;
  clock: ReturnType<typeof testClock>;
  capture: Awaited<ReturnType<typeof captureMessages>>;
  api: (method: string, path: string, options?: ApiCallOptions) => Promise<ApiResponse>;
  user: (role: 'student' | 'teacher' | 'admin') => { id: string; token: string };
  /** Publishes an event as another service would (billing), on this file's isolated exchange. */
  publish: <T extends EventType>(type: T, payload: EventPayload<T>, options?: { id?: string; source?: ServiceName; occurredAt?: Date }) => Promise<string>;
  /** A slot of a new teacher starting `inMs` from the test clock's now, lasting an hour. */
  slot: (inMs?: number, teacher?: { id: string; token: string }) => Promise<{ id: string; teacher: { id: string; token: string }; startAt: string }>;
  close: () => Promise<void>;
}

/**
 * Starts booking in-process with its own token issuer, clock, and (unless given) its own bus
 * and its own database. A private database matters as much as a private bus: every instance
 * on one schema shares its outbox, so another test file's relay would publish this file's
 * events to that file's exchange. A second instance given the first's `bus` and `database`
 * is a replica of it.
 */
export async function startHarness(
  options: { epochOffsetMs?: number; env?: Record<string, string>; bus?: Harness['bus']; database?: Harness['database'] } = {},
): Promise<Harness> {
  const database = options.database ?? (await privateDatabase(['booking']));
  const issuer = await startTestIssuer();
  const bus = options.bus ?? isolatedBus();
  const clock = testClock(options.epochOffsetMs ?? 0);
  const capture = await captureMessages(bus.EVENTS_EXCHANGE);
  const svc = await start(
    testEnv({
      ...bus,
      IDENTITY_URL: issuer.jwksUrl.replace('/.well-known/jwks.json', ''),
      HOST: '127.0.0.1',
      // background jobs are off unless a file turns them on: they act on every row of the shared database
      BOOKING_HOLD_SWEEP_INTERVAL_MS: '0',
      BOOKING_WATCHDOG_INTERVAL_MS: '0',
      DATABASE_URL: database.url,
      ...options.env,
    }),
    { clock: clock.now, resolveKey: issuer.resolveKey },
  );
  const publisher = await eventPublisher(bus.EVENTS_EXCHANGE);

  const api: Harness['api'] = (method, path, opts) => apiCall(svc.url, method, path, opts);

  const user: Harness['user'] = (role) => {
    const id = randomUUID();
    return { id, token: issuer.token({ sub: id, role }) };
  };

  const publish: Harness['publish'] = async (type, payload, opts = {}) => (await publisher.publish(type, payload as Record<string, unknown>, opts)).id;

  const slot: Harness['slot'] = async (inMs = 3 * DAY, teacher = user('teacher')) => {
    const startAt = new Date(clock.now().getTime() + inMs);
    const endAt = new Date(startAt.getTime() + HOUR);
    const res = await api('POST', '/api/v1/scheduling/slots', { token: teacher.token, body: { startAt: startAt.toISOString(), endAt: endAt.toISOString() } });
    if (res.status !== 201) throw new Error(`slot create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id, teacher, startAt: res.body.startAt };
  };

  return {
    svc,
    database,
    issuer,
    bus,
    clock,
    capture,
    api,
    user,
    publish,
    slot,
    async close() {
      await publisher.close();
      await capture.close();
      await svc.stop();
      await issuer.close();
      if (!options.bus) await deleteBus(bus, ['booking']);
      if (!options.database) await database.drop();
    },
  };
}

/** Waits until at least `count` events of `type` about `bookingId` were published; returns them. */
export function awaitEvents(h: Harness, type: string, bookingId: string, count = 1): Promise<any[]> {
  return eventually(() => {
    const found = eventsFor(h, type, bookingId);
    if (found.length < count) throw new Error(`${found.length} of ${count} ${type} for ${bookingId}`);
    return found;
  });
}

/** The events of `type` captured so far that concern `bookingId`. */
export function eventsFor(h: Harness, type: string, bookingId: string): any[] {
  return h.capture.ofType(type).filter((e) => e.payload.bookingId === bookingId || e.payload.fromBookingId === bookingId || e.payload.toBookingId === bookingId);
}

/** Holds and confirms a slot for a student and plays billing's debit: a confirmed booking. */
export async function confirmedBooking(h: Harness, options: { inMs?: number; student?: { id: string; token: string } } = {}) {
  const student = options.student ?? h.user('student');
  const slot = await h.slot(options.inMs);
  const hold = await h.api('POST', '/api/v1/booking/hold', { token: student.token, body: { slotId: slot.id } });
  if (hold.status !== 201) throw new Error(`hold failed: ${hold.status} ${JSON.stringify(hold.body)}`);
  const confirm = await h.api('POST', `/api/v1/booking/${hold.body.id}/confirm`, { token: student.token, body: {} });
  if (confirm.status !== 202) throw new Error(`confirm failed: ${confirm.status} ${JSON.stringify(confirm.body)}`);
  const packageId = randomUUID();
  await h.publish('billing.lesson.debited', { bookingId: hold.body.id, packageId, lessonsLeft: 4 });
  const booking = await eventually(async () => {
    const res = await h.api('GET', `/api/v1/booking/${hold.body.id}`, { token: student.token });
    return res.body.status === 'confirmed' ? res.body : undefined;
  });
  return { booking, student, slot, packageId };
}

/** Waits until booking's consumer has handled (committed) the messages with these ids. */
export async function consumed(h: Harness, ...messageIds: string[]): Promise<void> {
  await eventually(async () => {
    const rows = await h.svc.db('inbox').whereIn('message_id', messageIds).select('message_id');
    if (rows.length < new Set(messageIds).size) throw new Error(`${rows.length} of ${messageIds.length} messages consumed`);
    return true;
  });
}

/** How many events of `type` about `aggregateId` booking has recorded (exact: the outbox is written with the change). */
export async function recorded(h: Harness, type: string, aggregateId: string): Promise<number> {
  const row = await h.svc.db('outbox').where({ type, aggregate_id: aggregateId }).count<{ n: string }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
