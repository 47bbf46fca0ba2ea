import type { Socket } from 'node:net';
import type { ConsumeMessage } from 'amqplib';
import { countSocketWrites, testInfra } from '@guitaronline/testing';
import { BrokerConnection } from '../src';
import { silentLogger } from './harness';

describe('broker connection', () => {
  let connection: BrokerConnection;

  beforeEach(async () => {
    connection = new BrokerConnection({ url: testInfra().amqpUrl, name: 'connection-test', logger: silentLogger });
    await connection.start();
  });
  afterEach(() => connection.stop());

  test("the frames one turn writes (a batch of publishes, then a batch of acks) leave in one socket write each, and every message arrives", async () => {
    const model = connection.current!;
    const socket = (model as unknown as { connection: { stream: Socket } }).connection.stream;
    const channel = await model.createChannel();
    // exclusive: gone with the connection, but kept when the channel closes
    const { queue } = await channel.assertQueue('', { exclusive: true });

    const writes = countSocketWrites(socket);
    for (let i = 0; i < 50; i += 1) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // 50 publishes, each method + header + body frame: one writev (amqplib alone: one write per frame)
    expect(writes.chunks).toBeGreaterThanOrEqual(50);
    expect(writes.calls).toBeLessThanOrEqual(2);

    const deliveries: ConsumeMessage[] = [];
    await channel.prefetch(50);
    await new Promise<void>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (!msg) return;
        deliveries.push(msg);
        if (deliveries.length === 50) resolve();
      });
    });
    expect(deliveries.map((m) => m.content.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));

    // acking the 50 in one turn: one write too, and the broker takes every ack
    writes.calls = 0;
    writes.chunks = 0;
    for (const msg of deliveries) channel.ack(msg);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(writes.chunks).toBe(50);
    expect(writes.calls).toBeLessThanOrEqual(2);
    await channel.close(); // unacked messages would go back to the queue here
    const check = await model.createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
    await check.close();
  });
});
