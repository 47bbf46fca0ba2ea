import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BrokerConnection } from './connection';
import { EventConsumer, type ConsumerTuning, type EventHandlers } from './consumer';
import { OutboxRelay } from './relay';
import { DEFAULT_EXCHANGE } from './topology';

export interface MessagingOptions {
  service: string;
  knex: Knex;
  amqpUrl: string;
  exchange?: string;
  /** Prefix of this service's queue names (tests isolate parallel suites with it). */
  queuePrefix?: string;
  logger: Logger;
  metrics?: Registry;
  /** Event handlers; a service with none runs only the relay. */
  handlers?: EventHandlers;
  /** How the consumer serializes, batches and binds (see ConsumerOptions). */
  consumer?: ConsumerTuning;
  retryDelaysMs?: number[];
  maxAttempts?: number;
  prefetch?: number;
  relayBatchSize?: number;
  relayPollIntervalMs?: number;
  outboxRetentionHours?: number;
  inboxRetentionHours?: number;
}

export interface Messaging {
  connection: BrokerConnection;
  relay: OutboxRelay;
  consumer: EventConsumer | undefined;
  start(): Promise<void>;
  /** Stops consuming (waits for handlers in flight), drains the relay, closes the connection. */
  stop(): Promise<void>;
  /** Readiness: the broker connection is up. */
  ready(): Promise<void>;
}

/** Wires a service's broker connection, outbox relay and (optional) inbox consumer. */
export function createMessaging(options: MessagingOptions): Messaging {
  const exchange = options.exchange ?? DEFAULT_EXCHANGE;
  const logger = options.logger.child({ component: 'messaging' });
  const connection = new BrokerConnection({ url: options.amqpUrl, name: `guitaronline-${options.service}`, logger });
  const relay = new OutboxRelay({
    service: options.service,
    knex: options.knex,
    connection,
    exchange,
    logger,
    metrics: options.metrics,
    batchSize: options.relayBatchSize,
    pollIntervalMs: options.relayPollIntervalMs,
    outboxRetentionHours: options.outboxRetentionHours,
    inboxRetentionHours: options.inboxRetentionHours,
  });
  const hasHandlers = options.handlers && Object.keys(options.handlers).length > 0;
  const consumer = hasHandlers
    ? new EventConsumer({
        service: options.service,
        queuePrefix: options.queuePrefix,
        knex: options.knex,
        connection,
        exchange,
        handlers: options.handlers!,
        logger,
        metrics: options.metrics,
        retryDelaysMs: options.retryDelaysMs,
        maxAttempts: options.maxAttempts,
        prefetch: options.prefetch,
        ...options.consumer,
      })
    : undefined;
  return {
    connection,
    relay,
    consumer,
    async start() {
      await connection.start();
      relay.start();
      await consumer?.start();
    },
    async stop() {
      await consumer?.stop();
      await relay.stop();
      await connection.stop();
    },
    async ready() {
      if (!connection.isConnected) throw new Error('broker connection is down');
    },
  };
}
