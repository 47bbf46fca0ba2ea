import { createServer, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { noDelayConnection, smtpOptions } from '../src/channels/email-channel';
import { countSocketWrites } from '@guitaronline/testing';
import { startSmtp } from './harness';

describe('SMTP connection', () => {
  test('when mail is sent, then it goes over a connection opened with Nagle off, and arrives', async () => {
    const smtp = await startSmtp();
    const setNoDelay = jest.spyOn(Socket.prototype, 'setNoDelay');
    const transport = nodemailer.createTransport(smtpOptions(smtp.url, 5_000));
    try {
      await transport.sendMail({ from: 'a@example.test', to: 'b@example.test', subject: 'hi', text: 'body' });
      expect(smtp.to('b@example.test')).toHaveLength(1);
      expect(setNoDelay).toHaveBeenCalledWith(true);
    } finally {
      setNoDelay.mockRestore();
      transport.close();
      await smtp.close();
    }
  });

  test('when mail is sent, then each command and the whole message after DATA leave in one socket write each', async () => {
    const smtp = await startSmtp();
    const options = smtpOptions(smtp.url, 5_000);
    let writes = { calls: 0, chunks: 0 };
    const open = options.getSocket;
    // count the writes that reach the relay's socket (one syscall each)
    options.getSocket = (o, callback) =>
      open(o, (err, opened) => {
        if (opened) writes = countSocketWrites(opened.connection);
        callback(err, opened);
      });
    const transport = nodemailer.createTransport({ ...options, maxConnections: 1 });
    try {
      await transport.sendMail({ from: 'a@example.test', to: 'b@example.test', subject: 'warm-up', text: 'body' });
      writes.calls = 0;
      for (let i = 0; i < 5; i += 1) {
        await transport.sendMail({ from: 'a@example.test', to: 'b@example.test', subject: `lesson ${i}`, text: 'Your lesson is confirmed.\nSee you!' });
      }
      expect(smtp.to('b@example.test')).toHaveLength(6);
      // MAIL FROM, RCPT TO, DATA, the message: nodemailer writes the message in 3–4 pieces over several ticks
      expect(writes.calls).toBe(5 * 4);
    } finally {
      transport.close();
      await smtp.close();
    }
  });

  test('when the relay refuses the connection, then the socket factory answers with the reason', async () => {
    // a port with nothing listening
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await new Promise<Error | null>((resolve) => noDelayConnection(1_000)({ host: '127.0.0.1', port }, (err) => resolve(err)));
    expect((refused as Error & { code?: string }).code).toBe('ECONNREFUSED');

  });
});
