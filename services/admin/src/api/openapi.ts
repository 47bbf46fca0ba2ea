import { adminHttp, createOpenApiRegistry, generateOpenApiDocument, pageOf, problemResponses, bearerSecurity as security } from '@guitaronline/contracts';

const json = <T>(schema: T) => ({ 'application/json': { schema } });

/** The admin service's OpenAPI document, generated from the same zod schemas the routes use. */
export function adminOpenApiDocument() {
  const registry = createOpenApiRegistry();
  registry.registerPath({
    method: 'get',
    path: '/api/v1/admin/kpi/overview',
    summary: 'KPI overview from the event-fed read model; records admin.kpi.view',
    security,
    responses: { 200: { description: 'KPIs', content: json(adminHttp.kpiOverviewSchema) }, ...problemResponses(401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/admin/ops/overview',
    summary: 'Operations overview: outbox backlogs, queue depths, dead letters, saga health; records admin.ops.view',
    description: 'A service that does not answer within OPS_TIMEOUT_MS is listed in `degraded`; the overview never fails because of it.',
    security,
    responses: { 200: { description: 'Operations', content: json(adminHttp.opsOverviewSchema) }, ...problemResponses(401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/admin/actions',
    summary: 'Admin actions, newest first; records admin.actions.view',
    security,
    request: { query: adminHttp.actionsQuery },
    responses: { 200: { description: 'A page of admin actions', content: json(pageOf(adminHttp.adminActionSchema)) }, ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/admin/traces/{correlationId}',
    summary: 'The events of one flow in causal order, with producer and consumers; records admin.traces.view',
    security,
    request: { params: adminHttp.correlationIdParams },
    responses: { 200: { description: 'The trace (no events when none is known)', content: json(adminHttp.traceSchema) }, ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/admin/dead-letters',
    summary: 'Parked messages with their reason and attempts (read without consuming); records admin.dead_letters.view',
    security,
    request: { query: adminHttp.deadLettersQuery },
    responses: { 200: { description: 'Dead letters', content: json(adminHttp.deadLetterListSchema) }, ...problemResponses(400, 401, 403, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/admin/dead-letters/{queue}/redrive',
    summary: 'Republishes parked messages (all, or the given ids) to their queue with the attempt count reset; records admin.dead_letters.redrive',
    security,
    request: { params: adminHttp.deadLetterQueueParams, body: { content: json(adminHttp.redriveBody) } },
    responses: { 200: { description: 'How many were redriven', content: json(adminHttp.redriveResultSchema) }, ...problemResponses(400, 401, 403, 404, 409, 503) },
  });
  return generateOpenApiDocument(registry, { title: 'GuitarOnline admin service', version: '1.0.0' });
}
