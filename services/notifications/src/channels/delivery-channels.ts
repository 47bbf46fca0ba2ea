import { ChannelPausedError, type ClaimedDelivery, type DeliveryChannels, type PausedChannels } from '../domain/delivery';
import { isOpenBreakerError } from './breaker';
import type { EmailChannel } from './email-channel';
import type { WebhookChannel } from './webhook-channel';

/** Routes a claimed delivery to its channel and turns "breaker open" into a postponement. */
export class OutboundChannels implements DeliveryChannels {
  constructor(
    private readonly email: EmailChannel,
    private readonly webhooks: WebhookChannel,
    readonly pauseMs: number,
  ) {}

  paused(): PausedChannels {
    return { email: this.email.breaker.opened, subscriptions: this.webhooks.openSubscriptions() };
  }

  async send(delivery: ClaimedDelivery): Promise<void> {
    try {
      if (delivery.channel === 'email') await this.email.send(delivery);
      else await this.webhooks.send(delivery);
    } catch (err) {
      if (isOpenBreakerError(err)) throw new ChannelPausedError(delivery.channel === 'email' ? 'smtp' : `webhook ${delivery.subscriptionId}`);
      throw err;
    }
  }
}
