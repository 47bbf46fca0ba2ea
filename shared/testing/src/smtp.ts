import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpAttempt {
  to: string[];
  at: number;
  accepted: boolean;
}

export interface ReceivedMail {
  to: string[];
  messageId: string | undefined;
  subject: string | undefined;
  raw: string;
}

/**
 * A real SMTP server (the smtp-server package) on a free loopback port, for tests that prove
 * mail is delivered, never a mock of the mailer.
 * A real SMTP server on a free port; `refuse` answers 451 to DATA while it is true (or for the next n messages). */
export async function startSmtp() {
  const state = { refuse: false as boolean | number, attempts: [] as SmtpAttempt[], received: [] as ReceivedMail[] };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    disableReverseLookup: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const refuse = state.refuse === true || (typeof state.refuse === 'number' && state.refuse > 0);
        state.attempts.push({ to, at: Date.now(), accepted: !refuse });
        if (refuse) {
          if (typeof state.refuse === 'number') state.refuse -= 1;
          const err = new Error('Try again later') as Error & { responseCode: number };
          err.responseCode = 451;
          callback(err);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(raw)?.[1]?.trim();
        state.received.push({ to, raw, messageId: header('Message-ID'), subject: header('Subject') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    state,
    url: `smtp://127.0.0.1:${port}`,
    /** Mails accepted for one address. */
    to: (address: string) => state.received.filter((m) => m.to.includes(address)),
    attemptsTo: (address: string) => state.attempts.filter((a) => a.to.includes(address)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

