import type { Channel } from 'amqplib';

export const DEFAULT_EXCHANGE = 'guitaronline.events';
/** Retry tiers (EVENTS.md): each retry queue holds a message for its TTL, then dead-letters it back. */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 10_000, 60_000];

export interface ServiceQueues {
  main: string;
  retries: string[];
  dlq: string;
}

export function queueNames(service: string, retryTiers: number): ServiceQueues {
  return {
    main: `${service}.events`,
    retries: Array.from({ length: retryTiers }, (_, i) => `${service}.events.retry.${i + 1}`),
    dlq: `${service}.events.dlq`,
  };
}

export async function declareExchange(channel: Channel, exchange: string): Promise<void> {
  await channel.assertExchange(exchange, 'topic', { durable: true });
}

/**
 * The topology of one consuming service: a durable quorum queue bound to the event types it
 * consumes, retry queues whose TTL dead-letters back to the main queue through the default
 * exchange, and a parking queue.
 */
export async function declareServiceQueues(
  channel: Channel,
  options: { exchange: string; service: string; eventTypes: readonly string[]; retryDelaysMs: readonly number[] },
): Promise<ServiceQueues> {
  const names = queueNames(options.service, options.retryDelaysMs.length);
  await declareExchange(channel, options.exchange);
  await channel.assertQueue(names.main, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  for (const type of options.eventTypes) await channel.bindQueue(names.main, options.exchange, type);
  for (const [i, name] of names.retries.entries()) {
    await channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-message-ttl': options.retryDelaysMs[i],
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': names.main,
      },
    });
  }
  await channel.assertQueue(names.dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  return names;
}
