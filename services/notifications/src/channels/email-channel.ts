import { connect, type Socket } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { coalesceWrites } from '@guitaronline/platform';
import type CircuitBreaker from 'opossum';
import type { ClaimedEmail } from '../domain/delivery';
import { createBreaker, type BreakerSettings } from './breaker';

export interface EmailChannelOptions {
  smtpUrl: string;
  from: string;
  timeoutMs: number;
  breaker: BreakerSettings;
}

/**
 * Opens the relay's TCP connection with Nagle's algorithm off (nodemailer's `getSocket` hook;
 * implicit TLS and STARTTLS are layered on it by nodemailer as usual). nodemailer leaves Nagle
 * on, and a message goes out in several writes after DATA: the later ones waited for the
 * relay's delayed ACK (~40 ms) on every mail, which held a pool of three connections to about
 * 65 mails/s on this machine (`npm run bench:smtp` measures both).
 */
export function noDelayConnection(timeoutMs: number) {
  return (options: { host?: string; port?: number }, callback: (err: Error | null, socketOptions?: { connection: Socket }) => void): void => {
    const socket = connect({ host: options.host, port: options.port as number });
    socket.setNoDelay(true);
    // the message after DATA arrives over several ticks of nodemailer's streams: one write, not three or four
    coalesceWrites(socket, 'immediate');
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      socket.setTimeout(0);
      socket.off('error', settle);
      if (err) {
        socket.destroy();
        callback(err);
      } else callback(null, { connection: socket });
    };
    socket.setTimeout(timeoutMs, () => settle(Object.assign(new Error(`connection to ${options.host}:${options.port} timed out`), { code: 'ETIMEDOUT' })));
    socket.once('error', settle);
    socket.once('connect', () => settle(null));
  };
}

/** Connection options from SMTP_URL (smtp://user:pass@host:port, smtps:// for implicit TLS). */
export function smtpOptions(smtpUrl: string, timeoutMs: number) {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: true as const,
    maxConnections: 3,
    getSocket: noDelayConnection(timeoutMs),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  };
}

/** The stable Message-ID of a notification: a retry carries the same one, so receivers can dedupe. */
export function messageIdOf(notificationId: string): string {
  return `<${notificationId}@notifications.guitaronline>`;
}

/** SMTP delivery with nodemailer behind one breaker (the mail relay is one endpoint). */
export class EmailChannel {
  private readonly transporter: Transporter;
  readonly breaker: CircuitBreaker<[ClaimedEmail], void>;

  constructor(private readonly options: EmailChannelOptions) {
    this.transporter = nodemailer.createTransport(smtpOptions(options.smtpUrl, options.timeoutMs));
    this.breaker = createBreaker('smtp', (mail: ClaimedEmail) => this.sendNow(mail), options.breaker);
  }

  /** Resolves on the relay's 250 for the message; any refusal (4xx/5xx) or timeout rejects. */
  private async sendNow(mail: ClaimedEmail): Promise<void> {
    const info = await this.transporter.sendMail({
      from: this.options.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      messageId: messageIdOf(mail.notificationId),
      headers: { 'X-GuitarOnline-Notification': mail.notificationId, 'X-GuitarOnline-Event': mail.eventType },
    });
    if (info.rejected.length > 0) throw new Error(`recipient refused: ${info.rejected.join(', ')}`);
  }

  send(mail: ClaimedEmail): Promise<void> {
    return this.breaker.fire(mail);
  }

  close(): void {
    this.breaker.shutdown();
    this.transporter.close();
  }
}
