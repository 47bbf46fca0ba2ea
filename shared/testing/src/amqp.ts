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
