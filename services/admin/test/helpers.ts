import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import knexFactory, { type Knex } from 'knex';
import { eventCatalogue, type EventPayload, type EventType } from '@guitaronline/contracts';
import { apiCall, testInfra, type ApiCallOptions } from '@guitaronline/testing';

export interface Envelope {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  source: string;
  correlationId: string;
  causationId: string | null;
  aggregateId: string;
  payload: Record<string, unknown>;
}

/** An envelope as its producer would write it (EVENTS.md). */
export function envelope<T extends EventType>(
  type: T,
  payload: EventPayload<T>,
  options: { at?: Date | string; id?: string; correlationId?: string; causationId?: string | null; aggregateId?: string } = {},
): Envelope {
  const at = options.at ?? new Date();
  return {
    id: options.id ?? randomUUID(),
    type,
    version: eventCatalogue[type].version,
    occurredAt: typeof at === 'string' ? at : at.toISOString(),
    source: eventCatalogue[type].producer,
    correlationId: options.correlationId ?? randomUUID(),
    causationId: options.causationId ?? null,
    aggregateId: options.aggregateId ?? String(Object.values(payload as Record<string, unknown>)[0]),
    payload: payload as Record<string, unknown>,
  };
}

/** Publishes to a test bus like a relay does (confirmed, persistent, routing key = type). */
export async function createPublisher(exchange: string) {
  const connection: ChannelModel = await amqp.connect(testInfra().amqpUrl);
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const publishRaw = async (routingKey: string, content: Buffer | string, properties: amqp.Options.Publish = {}) => {
    channel.publish(exchange, routingKey, Buffer.isBuffer(content) ? content : Buffer.from(content), { persistent: true, contentType: 'application/json', ...properties });
    await channel.waitForConfirms();
  };
  return {
    channel,
    connection,
    publish: (event: Envelope) =>
      publishRaw(event.type, JSON.stringify(event), { messageId: event.id, type: event.type, correlationId: event.correlationId }),
    publishRaw,
    close: async () => {
      await connection.close().catch(() => undefined);
    },
  };
}

export function call(baseUrl: string, path: string, { method = 'GET', ...options }: ApiCallOptions & { method?: string } = {}) {
  return apiCall(baseUrl, method, path, options);
}

export interface StubServer {
  url: string;
  requests: { path: string; authorization: string | undefined }[];
  aborted: number;
  /** Replaces how the stub answers. */
  handle: (handler: (req: IncomingMessage, res: ServerResponse) => void) => void;
  close: () => Promise<void>;
}

/** A small HTTP server standing in for another service's internal endpoints. */
export async function startStub(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<StubServer> {
  let current = handler;
  const stub: StubServer = {
    url: '',
    requests: [],
    aborted: 0,
    handle: (h) => {
      current = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    stub.requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    res.on('close', () => {
      if (!res.writableFinished) stub.aborted += 1;
    });
    current(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}

export function json(body: unknown, status = 200) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
}

/** A superuser connection to the test database, for arranging what a service cannot do to itself. */
export function superuserDb(): Knex {
  return knexFactory({ client: 'pg', connection: testInfra().databaseUrl, pool: { min: 0, max: 2 } });
}

/** A port nothing listens on (bound, then released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
