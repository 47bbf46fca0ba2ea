import type { Clock } from './clock';
import { newWebhookSecret } from './webhook-signature';

export interface WebhookSubscriptionView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  createdAt: Date;
}

export interface WebhookStore {
  insert(input: { url: string; events: string[]; description?: string; secret: string; createdBy: string }, now: Date): Promise<WebhookSubscriptionView>;
  /** Soft-deletes the subscription and cancels its unsettled deliveries in one transaction. */
  deleteAndCancel(id: string, now: Date): Promise<boolean>;
}

/** Admin management of webhook subscriptions. */
export class WebhookSubscriptions {
  constructor(
    private readonly store: WebhookStore,
    private readonly clock: Clock,
    private readonly onDeleted: (id: string) => void,
  ) {}

  /** A new subscription with a fresh signing secret; the secret is returned this once only. */
  async subscribe(input: { url: string; events: string[]; description?: string }, adminId: string) {
    const secret = newWebhookSecret();
    const subscription = await this.store.insert({ ...input, secret, createdBy: adminId }, this.clock());
    return { ...subscription, secret };
  }

  /** After this, the subscription receives nothing more; false when no live one has the id. */
  async unsubscribe(id: string): Promise<boolean> {
    const deleted = await this.store.deleteAndCancel(id, this.clock());
    if (deleted) this.onDeleted(id);
    return deleted;
  }
}
