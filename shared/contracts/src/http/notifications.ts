import { z } from '../zod';
import { isoDateTime, uuid } from '../primitives';
import { eventTypes, type EventType } from '../events';

/** Channels a notification or delivery goes out on. */
export const channel = z.enum(['email', 'webhook']);
export type Channel = z.infer<typeof channel>;

/**
 * A user's notification as GET /notifications/my shows it. `pending` covers "not yet sent"
 * (first try, retrying, or waiting for the recipient's address); `failed` means given up
 * (dead-lettered after the configured attempts).
 */
export const notificationStatus = z.enum(['pending', 'sent', 'failed']);

export const notificationSchema = z
  .object({
    id: uuid,
    type: z.string().openapi({ description: 'The event type that caused the notification, e.g. booking.confirmed' }),
    channel,
    status: notificationStatus,
    attempts: z.number().int().nonnegative(),
    subject: z.string(),
    createdAt: isoDateTime,
    sentAt: isoDateTime.nullable(),
  })
  .openapi('Notification');

const catalogueType = z.enum(eventTypes as [EventType, ...EventType[]]);

const webhookUrl = z.url({ protocol: /^https?$/, error: 'an absolute http(s) URL' }).max(2048);

export const createWebhookBody = z
  .strictObject({
    url: webhookUrl,
    events: z
      .array(catalogueType)
      .min(1)
      .max(eventTypes.length)
      .transform((events) => [...new Set(events)]),
    description: z.string().trim().max(500).optional(),
  })
  .openapi('CreateWebhookRequest');
export type CreateWebhookBody = z.infer<typeof createWebhookBody>;

export const webhookSchema = z
  .object({
    id: uuid,
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    createdAt: isoDateTime,
  })
  .openapi('WebhookSubscription');

/** Only the creation response carries the signing secret. */
export const webhookCreatedSchema = webhookSchema
  .extend({ secret: z.string().openapi({ description: 'HMAC-SHA256 signing secret; shown only once' }) })
  .openapi('WebhookSubscriptionCreated');

export const webhookIdParams = z.object({ id: uuid });

const channelCounts = z.object({
  pending: z.number().int(),
  sent: z.number().int(),
  failed: z.number().int(),
  canceled: z.number().int(),
  total: z.number().int(),
  retrying: z.number().int(),
  deadLettered: z.number().int(),
});

export const deliveryMetricsSchema = z
  .object({
    notifications: z.object({
      pending: z.number().int(),
      sent: z.number().int(),
      failed: z.number().int(),
      total: z.number().int(),
    }),
    deliveries: z.object({
      retrying: z.number().int(),
      deadLettered: z.number().int(),
      awaitingRecipient: z.number().int(),
      inFlight: z.number().int(),
    }),
    byChannel: z.object({ email: channelCounts, webhook: channelCounts }),
    asOf: isoDateTime,
  })
  .openapi('DeliveryMetrics');
export type DeliveryMetrics = z.infer<typeof deliveryMetricsSchema>;

/** The JSON body of a webhook delivery (API.md). */
export const webhookDeliveryBody = z
  .object({ id: uuid, type: z.string(), occurredAt: isoDateTime, data: z.record(z.string(), z.unknown()) })
  .openapi('WebhookDelivery');

export const opsSchema = z.object({
  outbox: z.object({ pending: z.number().int(), oldestPendingSeconds: z.number() }),
  failedNotifications: z.number().int(),
});
