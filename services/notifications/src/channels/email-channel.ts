import nodemailer, { type Transporter } from 'nodemailer';
import type CircuitBreaker from 'opossum';
import type { ClaimedEmail } from '../domain/delivery';
import { createBreaker, type BreakerSettings } from './breaker';

export interface EmailChannelOptions {
  smtpUrl: string;
  from: string;
  timeoutMs: number;
  breaker: BreakerSettings;
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
