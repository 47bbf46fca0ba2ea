import { Router, type RequestHandler } from 'express';
import { billingHttp, z } from '@guitaronline/contracts';
import { parse, parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import type { BillingDeps } from '../domain/deps';
import { createPackage, expireAllOverdue, getPackage, listMyPackages, listPackages } from '../domain/packages';
import { auditActorOf, packageView } from '../domain/package-rules';
import { changePaymentStatus, createPayment, listPayments } from '../domain/payments';
import { paymentView } from '../domain/payment-rules';

const idempotencyHeaders = z.object({ 'idempotency-key': billingHttp.idempotencyKey.optional() });

/** /api/v1/billing: thin routes (validate, identify, call the use case, shape the answer). */
export function billingRoutes(deps: BillingDeps, auth: Auth, options: { expiryBatchSize: number }): Router {
  const router = Router();
  router.use(auth.requireAuth as RequestHandler);

  router.post('/packages', auth.requireRole('admin'), async (req, res) => {
    const body = parseBody(req, billingHttp.createPackageBody);
    const pkg = await createPackage(deps, principalOf(req), body);
    res.status(201).json(packageView(pkg));
  });

  router.get('/packages/my', auth.requireRole('student'), async (req, res) => {
    const query = parseQuery(req, billingHttp.myPackagesQuery);
    const page = await listMyPackages(deps, principalOf(req), query);
    res.json({ items: page.items.map(packageView), nextCursor: page.nextCursor });
  });

  router.post('/packages/expire', auth.requireRole('admin'), async (req, res) => {
    const expired = await expireAllOverdue(deps, auditActorOf(principalOf(req)), options.expiryBatchSize);
    res.json({ expired });
  });

  router.get('/packages', auth.requireRole('admin'), async (req, res) => {
    const query = parseQuery(req, billingHttp.packagesQuery);
    const page = await listPackages(deps, query);
    res.json({ items: page.items.map(packageView), nextCursor: page.nextCursor });
  });

  router.get('/packages/:id', async (req, res) => {
    const { id } = parseParams(req, billingHttp.idParams);
    res.json(packageView(await getPackage(deps, principalOf(req), id)));
  });

  router.post('/payments', auth.requireRole('student', 'admin'), async (req, res) => {
    const headers = parse(idempotencyHeaders, { 'idempotency-key': req.get('idempotency-key') }, 'headers');
    const body = parseBody(req, billingHttp.createPaymentBody);
    const outcome = await createPayment(deps, principalOf(req), body, headers['idempotency-key']);
    if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(outcome.status).json(outcome.body);
  });

  router.post('/payments/:id/status', auth.requireRole('admin'), async (req, res) => {
    const { id } = parseParams(req, billingHttp.idParams);
    const { status } = parseBody(req, billingHttp.paymentStatusBody);
    res.json(paymentView(await changePaymentStatus(deps, principalOf(req), id, status)));
  });

  router.get('/payments', auth.requireRole('student', 'admin'), async (req, res) => {
    const query = parseQuery(req, billingHttp.paymentsQuery);
    const page = await listPayments(deps, principalOf(req), query);
    res.json({ items: page.items.map(paymentView), nextCursor: page.nextCursor });
  });

  return router;
}
