/** Delivery statuses (the schedule kept in the database). */
export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'dead' | 'canceled';
export type DeliveryChannel = 'email' | 'webhook';

interface ClaimedBase {
  id: string;
  /** Set at claim: only the holder of the claim may mark the row. */
  claimToken: string;
  /** Attempts finished before this one. */
  attempts: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  /** The causing event's correlation id: the delivery's own events continue its trace. */
  correlationId: string | null;
}

export interface ClaimedEmail extends ClaimedBase {
  channel: 'email';
  notificationId: string;
  userId: string;
  to: string;
  subject: string;
  text: string;
}

export interface ClaimedWebhook extends ClaimedBase {
  channel: 'webhook';
  subscriptionId: string;
  url: string;
  secret: string;
  data: Record<string, unknown>;
}

export type ClaimedDelivery = ClaimedEmail | ClaimedWebhook;

/** Channels whose breaker is open: their due rows are left alone instead of claimed. */
export interface PausedChannels {
  email: boolean;
  subscriptions: string[];
}

/** What the worker needs from storage; every mark is conditional on the claim token. */
export interface DeliveryStore {
  claimDue(input: { now: Date; leaseUntil: Date; limit: number; paused: PausedChannels }): Promise<ClaimedDelivery[]>;
  /** Marks sent (and records notification.sent for e-mail) in one atomic write; false if the claim was lost. */
  markSent(delivery: ClaimedDelivery, now: Date): Promise<boolean>;
  /** Records a failed attempt: rescheduled at `nextAttemptAt`, or dead when that is null. */
  markFailed(delivery: ClaimedDelivery, input: { now: Date; error: string; nextAttemptAt: Date | null }): Promise<boolean>;
  /** Gives the row back without counting an attempt (breaker open). */
  postpone(delivery: ClaimedDelivery, input: { now: Date; until: Date; reason: string }): Promise<boolean>;
  /** When the soonest claimable row is due (null: nothing scheduled). */
  nextDueAt(paused: PausedChannels): Promise<Date | null>;
}

/** Thrown by a channel whose circuit breaker is open: the delivery is postponed, not failed. */
export class ChannelPausedError extends Error {
  constructor(readonly channel: string) {
    super(`${channel} circuit is open`);
    this.name = 'ChannelPausedError';
  }
}

export interface DeliveryChannels {
  paused(): PausedChannels;
  /** Resolves once the receiver acknowledged (SMTP 250, HTTP 2xx); throws otherwise. */
  send(delivery: ClaimedDelivery): Promise<void>;
  /** How long a paused delivery waits before it is tried again. */
  readonly pauseMs: number;
}
