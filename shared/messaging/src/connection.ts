import { EventEmitter } from 'node:events';
import amqp, { type ChannelModel } from 'amqplib';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { coalesceWrites } from '@guitaronline/platform';

export interface BrokerConnectionOptions {
  url: string;
  name: string;
  logger: Logger;
  /** Reconnect backoff: starts here, doubles, capped at maxDelayMs, with jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * One AMQP connection per process that reconnects by itself with backoff. Users listen for
 * `connected` (a fresh ChannelModel: open channels, declare, consume) and `disconnected`.
 */
export class BrokerConnection extends EventEmitter {
  private model: ChannelModel | undefined;
  private stopped = true;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: BrokerConnectionOptions) {
    super();
    this.setMaxListeners(50);
  }

  get current(): ChannelModel | undefined {
    return this.model;
  }

  get isConnected(): boolean {
    return this.model !== undefined;
  }

  /** Starts connecting; resolves once connected the first time or rejects after `firstConnectTimeoutMs`. */
  async start(firstConnectTimeoutMs = 15_000): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
    await this.waitConnected(firstConnectTimeoutMs);
  }

  waitConnected(timeoutMs = 15_000): Promise<ChannelModel> {
    if (this.model) return Promise.resolve(this.model);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new Error(`RabbitMQ not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = (model: ChannelModel) => {
        clearTimeout(timer);
        resolve(model);
      };
      this.once('connected', onConnected);
    });
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      const { logger, name, url } = this.options;
      try {
        const model = await amqp.connect(withHeartbeat(url), {
          clientProperties: { connection_name: name },
          // amqplib leaves Nagle on: a publish or an ack written while an earlier small frame is
          // unacknowledged would wait for the peer's delayed ACK (~40 ms on Linux)
          noDelay: true,
        });
        if (this.stopped) {
          await model.close().catch(() => undefined);
          return;
        }
        this.attempt = 0;
        this.model = model;
        coalesceFrames(model, logger);
        model.on('error', (err: Error) => logger.warn({ err: err.message }, 'amqp connection error'));
        model.on('close', () => {
          if (this.model !== model) return;
          this.model = undefined;
          this.emit('disconnected');
          if (!this.stopped) {
            logger.warn('amqp connection lost; reconnecting');
            this.scheduleReconnect();
          }
        });
        model.on('blocked', (reason: string) => logger.warn({ reason }, 'amqp connection blocked by broker'));
        logger.info('amqp connected');
        this.emit('connected', model);
      } catch (err) {
        logger.warn({ err: (err as Error).message, attempt: this.attempt }, 'amqp connect failed');
        this.scheduleReconnect();
      }
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    const base = Math.min(this.options.maxDelayMs ?? 10_000, (this.options.initialDelayMs ?? 200) * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const model = this.model;
    this.model = undefined;
    if (model) await model.close().catch(() => undefined);
  }
}

/**
 * amqplib writes every frame with its own `socket.write` (its Mux loops over the channels'
 * frames and writes them one by one): a batch of acks or a relay's batch of publishes made a
 * syscall and a TCP segment each, and woke the broker for each. The frames one turn writes now
 * leave in one `writev`. The socket is amqplib's (not in its typings): when a later version
 * moves it, frames go out one by one again — correct, only slower — and a warning says so.
 */
function coalesceFrames(model: ChannelModel, logger: Logger): void {
  const stream = (model as unknown as { connection?: { stream?: Writable } }).connection?.stream;
  if (stream && typeof stream.write === 'function' && typeof stream.cork === 'function') coalesceWrites(stream);
  else logger.warn('amqplib connection socket not found; frames are written one by one');
}

/** Heartbeats find a silently dead TCP connection (a partition) within ~2 intervals. */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', '10');
  return parsed.toString();
}
