import { randomUUID } from 'node:crypto';
import { readConfig, allowPrivateWebhookTargets } from '../src/config';
import { WebhookChannel } from '../src/channels/webhook-channel';
import { checkWebhookTarget, isPublicAddress } from '../src/channels/webhook-targets';
import type { ClaimedWebhook } from '../src/domain/delivery';
import { startReceiver } from './harness';

function webhookTo(url: string): ClaimedWebhook {
  return {
    channel: 'webhook',
    id: randomUUID(),
    claimToken: randomUUID(),
    attempts: 0,
    eventId: randomUUID(),
    eventType: 'booking.confirmed',
    occurredAt: new Date().toISOString(),
    correlationId: null,
    subscriptionId: randomUUID(),
    url,
    secret: 'secret',
    data: { bookingId: randomUUID() },
  };
}

const breaker = { resetMs: 30_000, volumeThreshold: 1000, errorPercent: 50 };

describe('webhook targets', () => {
  test('when an address is judged, then only public internet addresses pass (IPv4-mapped IPv6 judged as its IPv4)', () => {
    const judged = (addresses: string[]) => addresses.filter(isPublicAddress);
    const notPublic = [
      '127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
      '255.255.255.255', '::1', '::', 'fe80::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip',
    ];
    expect(judged(notPublic)).toEqual([]);
    const publicOnes = ['8.8.8.8', '93.184.215.14', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
    expect(judged(publicOnes)).toEqual(publicOnes);
  });

  test('when a subscription URL is checked, then literals and names resolving to private addresses are refused with the reason', async () => {
    await expect(checkWebhookTarget('http://127.0.0.1:8080/hook')).rejects.toThrow('127.0.0.1 is not a public internet address');
    await expect(checkWebhookTarget('http://[::1]/hook')).rejects.toThrow('::1 is not a public internet address');
    await expect(checkWebhookTarget('http://169.254.169.254/latest/meta-data')).rejects.toThrow('not a public internet address');
    await expect(checkWebhookTarget('http://localhost:9/hook')).rejects.toThrow(/^localhost resolves to (127\.0\.0\.1|::1), not a public/);
    await expect(checkWebhookTarget('https://no-such-host.invalid/hook')).rejects.toThrow('no-such-host.invalid does not resolve');
    await expect(checkWebhookTarget('https://93.184.215.14/hook')).resolves.toBeUndefined();
  });

  test('when private targets are not allowed, then a delivery to one fails before a byte is sent, by address or by name; allowed, it arrives', async () => {
    const receiver = await startReceiver();
    const guarded = new WebhookChannel({ timeoutMs: 2_000, breaker, clock: () => new Date(), allowPrivateTargets: false });
    const open = new WebhookChannel({ timeoutMs: 2_000, breaker, clock: () => new Date(), allowPrivateTargets: true });
    try {
      const byName = receiver.url.replace('127.0.0.1', 'localhost');
      await expect(guarded.send(webhookTo(receiver.url))).rejects.toThrow('127.0.0.1 is not a public internet address');
      // a name is checked as the connection is made (it may resolve elsewhere than when it was subscribed)
      await expect(guarded.send(webhookTo(byName))).rejects.toThrow(/localhost resolves to .*not a public internet address/);
      expect(receiver.received).toHaveLength(0);
      await open.send(webhookTo(receiver.url));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await guarded.close();
      await open.close();
      await receiver.close();
    }
  });

  test('when WEBHOOK_ALLOW_PRIVATE_TARGETS is unset, then private targets are allowed except in production; set, it decides', () => {
    const base = { APP_ENV: 'development' as const, WEBHOOK_ALLOW_PRIVATE_TARGETS: undefined };
    expect(allowPrivateWebhookTargets(base)).toBe(true);
    expect(allowPrivateWebhookTargets({ ...base, APP_ENV: 'production' })).toBe(false);
    expect(allowPrivateWebhookTargets({ ...base, APP_ENV: 'production', WEBHOOK_ALLOW_PRIVATE_TARGETS: true })).toBe(true);
    expect(allowPrivateWebhookTargets({ ...base, WEBHOOK_ALLOW_PRIVATE_TARGETS: false })).toBe(false);
    expect(readConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }).WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(false);
  });
});
