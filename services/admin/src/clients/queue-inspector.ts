import type { Channel, ChannelModel } from 'amqplib';
import type { Logger } from '@guitaronline/platform';

export interface QueueDepth {
  ready: number;
  /** null when read by an AMQP passive declare, which does not report it */
  unacked: number | null;
  consumers: number;
}

export interface QueueSnapshot {
  queues: Record<string, QueueDepth>;
  /** asked-for queues the broker does not have */
  missing: string[];
  via: 'management' | 'amqp';
}

export interface QueueInspectorOptions {
  /** The current AMQP connection, if any (the service's own reconnecting connection). */
  connection: () => ChannelModel | undefined;
  /** RabbitMQ management API base URL with credentials, e.g. http://guest:guest@127.0.0.1:15672 */
  managementUrl?: string;
  /** The virtual host of AMQP_URL. */
  vhost: string;
  timeoutMs: number;
  logger: Logger;
}

/** The virtual host an AMQP URL names ('/' when the path is empty). */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

/** Whether an amqplib error is the broker's 404 NOT_FOUND (the queue does not exist). */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}

/** A channel whose server-side close (e.g. a 404 on a passive declare) is logged, never thrown at the process. */
export async function openChannel(model: ChannelModel, logger: Logger): Promise<Channel> {
  const channel = await model.createChannel();
  channel.on('error', (err: Error) => logger.debug({ err: err.message }, 'inspection channel closed by the broker'));
  return channel;
}

/**
 * Queue depths and consumers: from the management HTTP API when configured (it also knows the
 * unacknowledged count), else by passive declares over AMQP — which never create a queue.
 */
export class QueueInspector {
  constructor(private readonly options: QueueInspectorOptions) {}

  async snapshot(names: readonly string[]): Promise<QueueSnapshot> {
    if (this.options.managementUrl) {
      try {
        return await this.viaManagement(names, this.options.managementUrl);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message }, 'management API unavailable; falling back to AMQP');
      }
    }
    return this.viaAmqp(names);
  }

  private async viaManagement(names: readonly string[], managementUrl: string): Promise<QueueSnapshot> {
    const base = new URL(managementUrl);
    const auth = base.username ? `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}` : undefined;
    base.username = '';
    base.password = '';
    const url = new URL(`api/queues/${encodeURIComponent(this.options.vhost)}`, base.toString().endsWith('/') ? base.toString() : `${base.toString()}/`);
    url.searchParams.set('columns', 'name,messages_ready,messages_unacknowledged,consumers');
    const res = await fetch(url, {
      headers: { accept: 'application/json', ...(auth ? { authorization: auth } : {}) },
      // half the budget: a hanging management API must leave time for the AMQP fallback
      signal: AbortSignal.timeout(Math.max(50, Math.floor(this.options.timeoutMs / 2))),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`management API answered ${res.status}`);
    }
    const rows = (await res.json()) as { name: string; messages_ready?: number; messages_unacknowledged?: number; consumers?: number }[];
    const byName = new Map(rows.map((r) => [r.name, r]));
    const queues: Record<string, QueueDepth> = {};
    const missing: string[] = [];
    for (const name of names) {
      const row = byName.get(name);
      if (!row) missing.push(name);
      // fresh queues have no stats yet: absent counters are zero
      else queues[name] = { ready: row.messages_ready ?? 0, unacked: row.messages_unacknowledged ?? 0, consumers: row.consumers ?? 0 };
    }
    return { queues, missing, via: 'management' };
  }

  private async viaAmqp(names: readonly string[]): Promise<QueueSnapshot> {
    const model = this.options.connection();
    if (!model) throw new Error('broker connection is down');
    // one channel per queue, all at once: a passive declare of a missing queue closes its
    // channel (404), and closing and reopening one channel in turn costs tens of ms per queue
    const results = await Promise.all(
      names.map(async (name) => {
        const channel = await openChannel(model, this.options.logger);
        try {
          const { messageCount, consumerCount } = await channel.checkQueue(name);
          await channel.close().catch(() => undefined);
          return { name, depth: { ready: messageCount, unacked: null, consumers: consumerCount } as QueueDepth };
        } catch (err) {
          if (isNotFound(err)) return { name, depth: undefined };
          await channel.close().catch(() => undefined);
          throw err;
        }
      }),
    );
    const queues: Record<string, QueueDepth> = {};
    const missing: string[] = [];
    for (const { name, depth } of results) {
      if (depth) queues[name] = depth;
      else missing.push(name);
    }
    return { queues, missing, via: 'amqp' };
  }
}
