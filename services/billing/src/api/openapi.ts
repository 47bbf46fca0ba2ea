import { billingHttp, createOpenApiRegistry, generateOpenApiDocument, problemResponses, z, jsonResponse as json, bearerSecurity as security } from '@guitaronline/contracts';

const body = <T>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

/** The billing service's OpenAPI document, generated from the same zod schemas the routes validate with. */
export function billingOpenApi() {
  const registry = createOpenApiRegistry();
  registry.register('Package', billingHttp.packageSchema);
  registry.register('Payment', billingHttp.paymentSchema);

  registry.registerPath({
    method: 'post',
    path: '/api/v1/billing/packages',
    summary: 'Create an active lesson package for a student (admin); audited and announced',
    security,
    request: { body: body(billingHttp.createPackageBody) },
    responses: { 201: json(billingHttp.packageSchema, 'The new package'), ...problemResponses(400, 401, 403, 422) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/billing/packages/my',
    summary: "The student's own packages, newest first (past expiry → expired)",
    security,
    request: { query: billingHttp.myPackagesQuery },
    responses: { 200: json(billingHttp.packagePage, 'A page of packages'), ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/billing/packages',
    summary: 'Packages, optionally of one student (admin)',
    security,
    request: { query: billingHttp.packagesQuery },
    responses: { 200: json(billingHttp.packagePage, 'A page of packages'), ...problemResponses(400, 401, 403) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/billing/packages/{id}',
    summary: 'A package (its student, admin)',
    security,
    request: { params: billingHttp.idParams },
    responses: { 200: json(billingHttp.packageSchema, 'The package'), ...problemResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/billing/packages/expire',
    summary: 'Expire every active package past its expiry now (admin)',
    security,
    responses: { 200: json(billingHttp.expireResult, 'How many packages were expired'), ...problemResponses(401, 403) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/billing/payments',
    summary: "Record a pending payment for a package (admin, or the package's student)",
    security,
    request: {
      headers: z.object({ 'Idempotency-Key': billingHttp.idempotencyKey.optional() }),
      body: body(billingHttp.createPaymentBody),
    },
    responses: {
      201: json(billingHttp.paymentSchema, 'The new payment (or the first response again for a replayed Idempotency-Key)'),
      ...problemResponses(400, 401, 403, 404, 409, 422),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/billing/payments/{id}/status',
    summary: 'Move a payment along pending → succeeded|failed, failed → pending|succeeded, succeeded → refunded (admin)',
    security,
    request: { params: billingHttp.idParams, body: body(billingHttp.paymentStatusBody) },
    responses: { 200: json(billingHttp.paymentSchema, 'The payment'), ...problemResponses(400, 401, 403, 404, 409) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/billing/payments',
    summary: "Payments (admin: any, optionally of one package; student: their own package's)",
    security,
    request: { query: billingHttp.paymentsQuery },
    responses: { 200: json(billingHttp.paymentPage, 'A page of payments'), ...problemResponses(400, 401, 403, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/internal/ops',
    summary: 'Outbox backlog and overdue active packages for the admin operations overview (admin token)',
    security,
    responses: { 200: json(billingHttp.billingOpsSchema, 'Operational figures'), ...problemResponses(401, 403) },
  });
  return generateOpenApiDocument(registry, { title: 'GuitarOnline billing', version: '1.0.0' });
}
