import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { eventCatalogue, isEventType, type EventEnvelope, type ServiceName } from '@guitaronline/contracts';
import { queueNames } from '@guitaronline/messaging';
import { testInfra } from './infra';

/**
 * Binds a temporary queue to an exchange and records every message that arrives, so a test
 * can assert what a service published.
 */
export async function captureMessages(exchange: string, pattern = '#') {
  const connection: ChannelModel = await amqp.connect(testInfra().amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, pattern);
  const messages: { routingKey: string; body: any; properties: ConsumeMessage['properties'] }[] = [];
  await channel.consume(
    queue,
    (msg) => {
      if (!msg) return;
      messages.push({ routingKey: msg.fields.routingKey, body: JSON.parse(msg.content.toString()), properties: msg.properties });
    },
    { noAck: true },
  );
  return {
    messages,
    ofType: (type: string) => messages.filter((m) => m.routingKey === type).map((m) => m.body),
    close: async () => {
      await connection.close().catch(() => undefined);
    },
  };
}

/** Deletes the exchange and every queue of an isolated bus (see isolatedBus). */
export async function deleteBus(bus: { EVENTS_EXCHANGE: string; EVENTS_QUEUE_PREFIX: string }, services: string[], retryTiers = 3): Promise<void> {
  const connection: ChannelModel = await amqp.connect(testInfra().amqpUrl);
  try {
    const channel = await connection.createChannel();
    for (const service of services) {
      const { main, retries, dlq } = queueNames(`${bus.EVENTS_QUEUE_PREFIX}${service}`, retryTiers);
      for (const name of [main, ...retries, dlq]) await channel.deleteQueue(name).catch(() => undefined);
    }
    await channel.deleteExchange(bus.EVENTS_EXCHANGE).catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Messages ready in a queue (e.g. a service's dead-letter queue). */
export async function queueDepth(queue: string): Promise<number> {
  const connection: ChannelModel = await amqp.connect(testInfra().amqpUrl);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The first `…Id` field of a payload: what the event is about (bookingId, teacherId, userId …). */
function aggregateOf(payload: Record<string, unknown>): string | undefined {
  const key = Object.keys(payload).find((k) => k.endsWith('Id') && typeof payload[k] === 'string');
  return key ? (payload[key] as string) : undefined;
}

/**
 * Publishes envelopes as their producer would (confirmed, persistent, routing key = type,
 * source and version from the event catalogue), so a consumer is proven against the real
 * broker. Payloads are not validated: a test may send poison on purpose.
 */
export async function eventPublisher(exchange: string) {
  const connection: ChannelModel = await amqp.connect(testInfra().amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  return {
    async publish(
      type: string,
      payload: Record<string, unknown>,
      options: { id?: string; aggregateId?: string; source?: ServiceName; occurredAt?: Date } = {},
    ): Promise<EventEnvelope> {
      const entry = isEventType(type) ? eventCatalogue[type] : undefined;
      const envelope: EventEnvelope = {
        id: options.id ?? randomUUID(),
        type,
        version: entry?.version ?? 1,
        occurredAt: (options.occurredAt ?? new Date()).toISOString(),
        source: options.source ?? entry?.producer ?? (type.split('.')[0] as ServiceName),
        correlationId: randomUUID(),
        causationId: null,
        aggregateId: options.aggregateId ?? aggregateOf(payload) ?? randomUUID(),
        payload,
      };
      channel.publish(exchange, type, Buffer.from(JSON.stringify(envelope)), {
        persistent: true,
        contentType: 'application/json',
        messageId: envelope.id,
        type,
        correlationId: envelope.correlationId,
      });
      await channel.waitForConfirms();
      return envelope;
    },
    async close() {
      await connection.close().catch(() => undefined);
    },
  };
}

export type EventPublisher = Awaited<ReturnType<typeof eventPublisher>>;
