import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
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
      const base = `${bus.EVENTS_QUEUE_PREFIX}${service}.events`;
      for (const name of [base, `${base}.dlq`, ...Array.from({ length: retryTiers }, (_, i) => `${base}.retry.${i + 1}`)]) {
        await channel.deleteQueue(name).catch(() => undefined);
      }
    }
    await channel.deleteExchange(bus.EVENTS_EXCHANGE).catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}
