import type CircuitBreaker from 'opossum';
import { Agent, fetch, type Response } from 'undici';
import type { Clock } from '../domain/clock';
import type { ClaimedWebhook } from '../domain/delivery';
import { signWebhook, webhookBody } from '../domain/webhook-signature';
import { createBreaker, type BreakerSettings } from './breaker';
import { assertPublicUrl, publicOnlyAgent, WebhookTargetError } from './webhook-targets';

export interface WebhookChannelOptions {
  timeoutMs: number;
  breaker: BreakerSettings;
  clock: Clock;
  userAgent?: string;
  /** Private, loopback and link-local targets allowed (see webhook-targets.ts); otherwise every connection is checked. */
  allowPrivateTargets: boolean;
}

export class WebhookHttpError extends Error {
  constructor(readonly status: number) {
    super(`endpoint answered HTTP ${status}`);
    this.name = 'WebhookHttpError';
  }
}

/**
 * Signed webhook POSTs, one breaker per subscription (one failing endpoint never holds up
 * the others). Redirects are not followed: a 3xx counts as a failure like any non-2xx.
 */
export class WebhookChannel {
  private readonly breakers = new Map<string, CircuitBreaker<[ClaimedWebhook], void>>();
  /** undici's client, with the public-only lookup unless private targets are allowed. */
  private readonly agent: Agent;

  constructor(private readonly options: WebhookChannelOptions) {
    this.agent = options.allowPrivateTargets ? new Agent() : publicOnlyAgent();
  }

  private breakerFor(subscriptionId: string): CircuitBreaker<[ClaimedWebhook], void> {
    let breaker = this.breakers.get(subscriptionId);
    if (!breaker) {
      breaker = createBreaker(`webhook:${subscriptionId}`, (d: ClaimedWebhook) => this.post(d), this.options.breaker);
      this.breakers.set(subscriptionId, breaker);
    }
    return breaker;
  }

  /** Subscriptions whose breaker is open (half-open ones may take their trial request). */
  openSubscriptions(): string[] {
    return [...this.breakers.entries()].filter(([, b]) => b.opened).map(([id]) => id);
  }

  send(delivery: ClaimedWebhook): Promise<void> {
    return this.breakerFor(delivery.subscriptionId).fire(delivery);
  }

  private async post(delivery: ClaimedWebhook): Promise<void> {
    const body = webhookBody({ eventId: delivery.eventId, eventType: delivery.eventType, occurredAt: delivery.occurredAt, data: delivery.data });
    const timestamp = String(Math.floor(this.options.clock().getTime() / 1000));
    let response: Response;
    try {
      if (!this.options.allowPrivateTargets) assertPublicUrl(delivery.url);
      response = await fetch(delivery.url, {
        dispatcher: this.agent,
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent ?? 'GuitarOnline-Webhooks/1',
          'x-guitaronline-event': delivery.eventType,
          'x-guitaronline-delivery': delivery.id,
          'x-guitaronline-timestamp': timestamp,
          'x-guitaronline-signature': signWebhook(delivery.secret, timestamp, body),
        },
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (err instanceof WebhookTargetError) throw err;
      if (e.name === 'TimeoutError') throw new Error(`no answer within ${this.options.timeoutMs} ms (timeout)`);
      throw new Error(`request failed: ${e.cause?.code ?? e.cause?.message ?? e.message}`);
    }
    // the body is not needed; release the socket
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status >= 300) throw new WebhookHttpError(response.status);
  }

  /** Drops the breaker of a deleted subscription. */
  forget(subscriptionId: string): void {
    this.breakers.get(subscriptionId)?.shutdown();
    this.breakers.delete(subscriptionId);
  }

  close(): Promise<void> {
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
    return this.agent.close();
  }
}
