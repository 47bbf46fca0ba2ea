import { createOpenApiRegistry, generateOpenApiDocument, notificationsHttp as http, pageOf, pageQuery, problemResponses, jsonResponse as json, bearerSecurity as security } from '@guitaronline/contracts';

/** The OpenAPI document of the notifications service, generated from the contract schemas. */
export function buildOpenApiDocument() {
  const registry = createOpenApiRegistry();
  registry.registerPath({
    method: 'get',
    path: '/api/v1/notifications/my',
    summary: "The caller's notifications, newest first",
    security,
    request: { query: pageQuery },
    responses: { 200: json(pageOf(http.notificationSchema), 'A page of notifications'), ...problemResponses(400, 401) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/notifications/webhooks',
    summary: 'Subscribe a URL to event types (admin); the signing secret is shown only in this response',
    description:
      'In production (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) the URL must name a public internet address: a host that resolves to a private, loopback or link-local address, or does not resolve, is a 400 on `url`.',
    security,
    request: { body: { content: { 'application/json': { schema: http.createWebhookBody } } } },
    responses: { 201: json(http.webhookCreatedSchema, 'The subscription with its secret'), ...problemResponses(400, 401, 403, 413, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/notifications/webhooks',
    summary: 'Live webhook subscriptions (admin), without secrets',
    security,
    request: { query: pageQuery },
    responses: { 200: json(pageOf(http.webhookSchema), 'A page of subscriptions'), ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'delete',
    path: '/api/v1/notifications/webhooks/{id}',
    summary: 'Delete a subscription (admin); its pending deliveries are canceled',
    security,
    request: { params: http.webhookIdParams },
    responses: { 204: { description: 'Deleted' }, ...problemResponses(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/notifications/delivery/metrics',
    summary: 'Delivery figures (admin)',
    security,
    responses: { 200: json(http.deliveryMetricsSchema, 'Counts by status and channel'), ...problemResponses(401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/internal/ops',
    summary: "Operations figures for the admin service's overview (admin)",
    security,
    responses: { 200: json(http.opsSchema, 'Outbox backlog and dead-lettered deliveries'), ...problemResponses(401, 403) },
  });
  return generateOpenApiDocument(registry, {
    title: 'GuitarOnline notifications',
    version: '1.0.0',
    description:
      'Notifications made from domain events, delivered by e-mail and signed webhooks. Webhook deliveries are POST JSON {id, type, occurredAt, data} with X-GuitarOnline-Event, X-GuitarOnline-Delivery, X-GuitarOnline-Timestamp and X-GuitarOnline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">.',
  });
}
