import type { ChannelModel, ConfirmChannel, GetMessage } from 'amqplib';
import type { Logger } from '@guitaronline/platform';
import type { adminHttp } from '@guitaronline/contracts';
import { ATTEMPTS_HEADER, ERROR_HEADER, PARKED_AT_HEADER, SOURCE_QUEUE_HEADER } from '@guitaronline/messaging';
import { errors } from '@guitaronline/platform';
import { isNotFound, openChannel } from './queue-inspector';

type DeadLetter = adminHttp.DeadLetter;

function header(msg: GetMessage, name: string): unknown {
  return msg.properties.headers?.[name];
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function bodyOf(msg: GetMessage): unknown {
  const raw = msg.content.toString('utf8');
  try {
    return JSON.parse(raw);
  } catch {
    return raw.length > 65_536 ? `${raw.slice(0, 65_536)}…` : raw;
  }
}

/** The message id: the AMQP property, else the envelope's `id`. */
export function messageIdOf(msg: GetMessage): string | null {
  if (msg.properties.messageId) return String(msg.properties.messageId);
  const body = bodyOf(msg) as { id?: unknown } | null;
  return body && typeof body === 'object' && typeof body.id === 'string' ? body.id : null;
}

export function toDeadLetter(queue: string, msg: GetMessage): DeadLetter {
  const body = bodyOf(msg) as { type?: unknown; correlationId?: unknown } | string | null;
  const fromBody = (key: 'type' | 'correlationId') => (body && typeof body === 'object' && typeof body[key] === 'string' ? (body[key] as string) : null);
  const attempts = Number(header(msg, ATTEMPTS_HEADER));
  return {
    queue,
    messageId: messageIdOf(msg),
    type: text(msg.properties.type) ?? fromBody('type'),
    correlationId: text(msg.properties.correlationId) ?? fromBody('correlationId'),
    routingKey: text(header(msg, 'x-original-routing-key')) ?? msg.fields.routingKey ?? null,
    reason: text(header(msg, ERROR_HEADER)),
    attempts: Number.isFinite(attempts) && header(msg, ATTEMPTS_HEADER) !== undefined ? attempts : null,
    parkedAt: text(header(msg, PARKED_AT_HEADER)),
    sourceQueue: text(header(msg, SOURCE_QUEUE_HEADER)),
    body,
  };
}

/**
 * Reads and redrives parked messages. Reading takes messages with `basic.get` (not acked) on a
 * dedicated channel and then returns them all with one requeueing nack: nothing is consumed,
 * and the queue keeps its order. Never leaves a message unaccounted for: whatever is not
 * explicitly acked goes back to the queue when the channel closes.
 */
export class DeadLetterStore {
  constructor(
    private readonly connection: () => ChannelModel | undefined,
    private readonly logger: Logger,
  ) {}

  private model(): ChannelModel {
    const model = this.connection();
    if (!model) throw new Error('broker connection is down');
    return model;
  }

  /** Up to `limit` parked messages, oldest first, plus how many the queue holds; a missing queue has none. */
  async peek(queue: string, limit: number): Promise<{ items: DeadLetter[]; count: number }> {
    const channel = await openChannel(this.model(), this.logger);
    try {
      let count: number;
      try {
        count = (await channel.checkQueue(queue)).messageCount;
      } catch (err) {
        if (isNotFound(err)) return { items: [], count: 0 };
        throw err;
      }
      const taken: GetMessage[] = [];
      while (taken.length < limit) {
        const msg = await channel.get(queue, { noAck: false });
        if (!msg) break;
        taken.push(msg);
      }
      // one nack for all of them, requeued (multiple=true covers every earlier delivery tag).
      // nack, not reject: from RabbitMQ 4.3 a requeueing nack does not count towards a quorum
      // queue's delivery limit. On 4.0–4.2 every acquisition counts, so a dead-letter queue
      // there needs its delivery limit lifted by policy, or a message peeked 20 times is dropped.
      if (taken.length > 0) channel.nack(taken[taken.length - 1], true, true);
      return { items: taken.map((m) => toDeadLetter(queue, m)), count: Math.max(count, taken.length) };
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Republishes parked messages to their queue with the attempt count reset, confirmed by the
   * broker before they are acked from the dead-letter queue. With `messageIds`, only those;
   * the others go back. At most the messages present when it starts are looked at, so a
   * message that fails again and is parked anew is not redriven twice in one call.
   */
  async redrive(
    dlq: string,
    targetOf: (msg: GetMessage) => string,
    options: { messageIds?: readonly string[]; max: number },
  ): Promise<{ redriven: number; notFound: string[] }> {
    const channel: ConfirmChannel = await this.model().createConfirmChannel();
    channel.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'redrive channel closed by the broker'));
    try {
      let present: number;
      try {
        present = (await channel.checkQueue(dlq)).messageCount;
      } catch (err) {
        if (isNotFound(err)) return { redriven: 0, notFound: [...(options.messageIds ?? [])] };
        throw err;
      }
      const wanted = options.messageIds ? new Set(options.messageIds) : undefined;
      const chosen: GetMessage[] = [];
      const others: GetMessage[] = [];
      const targets = new Set<string>();
      for (let i = 0; i < Math.min(present, options.max); i++) {
        const msg = await channel.get(dlq, { noAck: false });
        if (!msg) break;
        const id = messageIdOf(msg);
        if (!wanted || (id !== null && wanted.has(id))) {
          chosen.push(msg);
          targets.add(targetOf(msg));
          wanted?.delete(id as string);
        } else {
          others.push(msg);
        }
        if (wanted && wanted.size === 0) break;
      }
      // the target must exist: an unroutable message would be dropped by the default exchange
      for (const target of targets) {
        try {
          await channel.checkQueue(target);
        } catch (err) {
          if (isNotFound(err)) throw errors.conflict('queue_missing', `The queue ${target} does not exist; start its service first.`);
          throw err;
        }
      }
      const redrivenAt = new Date().toISOString();
      for (const msg of chosen) {
        const { properties } = msg;
        const headers = { ...(properties.headers ?? {}) };
        const lastError = headers[ERROR_HEADER];
        delete headers[ERROR_HEADER];
        delete headers[PARKED_AT_HEADER];
        channel.sendToQueue(targetOf(msg), msg.content, {
          persistent: true,
          contentType: properties.contentType,
          messageId: properties.messageId,
          type: properties.type,
          correlationId: properties.correlationId,
          timestamp: properties.timestamp,
          appId: properties.appId,
          headers: {
            ...headers,
            [ATTEMPTS_HEADER]: 0,
            'x-last-error': lastError,
            'x-redriven-at': redrivenAt,
            'x-redrive-count': Number(headers['x-redrive-count'] ?? 0) + 1,
          },
        });
      }
      await channel.waitForConfirms();
      for (const msg of chosen) channel.ack(msg);
      for (const msg of others) channel.nack(msg, false, true);
      return { redriven: chosen.length, notFound: wanted ? [...wanted] : [] };
    } finally {
      // anything not acked above (an error half-way) returns to the dead-letter queue here
      await channel.close().catch(() => undefined);
    }
  }
}
