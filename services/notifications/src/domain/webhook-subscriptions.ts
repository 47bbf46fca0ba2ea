import { errors } from '@guitaronline/platform';
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
  /**
   * Stores a subscription once events of its types reach the service (a subscription never
   * exists without its events coming); rejects, storing nothing, when that cannot be arranged.
   */
  insert(input: { url: string; events: string[]; description?: string; secret: string; createdBy: string }, now: Date): Promise<WebhookSubscriptionView>;
  /** Soft-deletes the subscription and cancels its unsettled deliveries in one transaction. */
  deleteAndCancel(id: string, now: Date): Promise<boolean>;
}

export interface WebhookSubscriptionsDeps {
  store: WebhookStore;
  clock: Clock;
  /** After a delete: forget what was kept for the subscription (its breaker). */
  onDeleted: (id: string) => void;
  /** Rejects (with the reason as its message) a URL webhooks may not go to; absent: any URL. */
  checkTarget?: (url: string) => Promise<void>;
}

/** Admin management of webhook subscriptions. */
export class WebhookSubscriptions {
  constructor(private readonly deps: WebhookSubscriptionsDeps) {}

  /** A new subscription with a fresh signing secret; the secret is returned this once only. */
  async subscribe(input: { url: string; events: string[]; description?: string }, adminId: string) {
    if (this.deps.checkTarget) {
      try {
        await this.deps.checkTarget(input.url);
      } catch (err) {
        throw errors.validation([{ path: 'url', message: (err as Error).message }]);
      }
    }
    const secret = newWebhookSecret();
    const subscription = await this.deps.store.insert({ ...input, secret, createdBy: adminId }, this.deps.clock());
    return { ...subscription, secret };
  }

  /** After this, the subscription receives nothing more; false when no live one has the id. */
  async unsubscribe(id: string): Promise<boolean> {
    const deleted = await this.deps.store.deleteAndCancel(id, this.deps.clock());
    if (deleted) this.deps.onDeleted(id);
    return deleted;
  }
}
