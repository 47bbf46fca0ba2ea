import { createHash, randomUUID } from 'node:crypto';
import { recordEvent } from '@guitaronline/messaging';
import { AppError, errors, type PageRequest } from '@guitaronline/platform';
import { writeAudit } from '../data/audit-repository';
import { findStoredResponse, lockIdempotencyKey, storeResponse } from '../data/idempotency-repository';
import { findPackage } from '../data/package-repository';
import { findPayment, insertPayment, listPayments as listPaymentRows, updatePaymentStatus } from '../data/payment-repository';
import type { BillingDeps } from './deps';
import { expireOverdue } from './packages';
import { auditActorOf, canSeePackage, type Actor } from './package-rules';
import { decidePaymentCreation, decidePaymentTransition, paymentEventPayload, paymentView, type Payment, type PaymentStatus } from './payment-rules';

export interface CreatePaymentInput {
  packageId: string;
  amountCents: number;
  currency: string;
}

export interface HttpOutcome {
  status: number;
  body: unknown;
  replayed: boolean;
}

/** A stable fingerprint of what was asked, to tell a replay from a reused key. */
export function requestFingerprint(input: CreatePaymentInput): string {
  const canonical = JSON.stringify([input.packageId, input.amountCents, input.currency]);
  return createHash('sha256').update(`POST /payments\n${canonical}`).digest('hex');
}

/**
 * Records a pending payment for a package (admin, or the package's student).
 * A package past its expiry → 409 package_expired, and it is expired on the way (committed even
 * though the request fails); otherwise a package that is not active → 409 package_not_active.
 * With an Idempotency-Key: the same key and body from the same caller gets the first 201 again;
 * the same key with another body → 422 idempotency_key_reused. Refusals are not remembered, so a
 * retry after the cause is fixed is judged afresh.
 */
export async function createPayment(deps: BillingDeps, actor: Actor, input: CreatePaymentInput, idempotencyKey?: string): Promise<HttpOutcome> {
  const fingerprint = requestFingerprint(input);
  const result = await deps.db.transaction(async (tx): Promise<HttpOutcome | AppError> => {
    if (idempotencyKey) {
      await lockIdempotencyKey(tx, actor.userId, idempotencyKey);
      const stored = await findStoredResponse(tx, actor.userId, idempotencyKey);
      if (stored) {
        if (stored.requestHash !== fingerprint) {
          return new AppError('idempotency_key_reused', 422, 'This Idempotency-Key was already used with a different request body.');
        }
        return { status: stored.status, body: stored.body, replayed: true };
      }
    }
    const pkg = await findPackage(tx, input.packageId, { forUpdate: true });
    if (!pkg || !canSeePackage(pkg, actor)) return errors.notFound('package');
    const now = deps.clock();
    const decision = decidePaymentCreation(pkg, input, now);
    if (decision.kind === 'package_expired') {
      await expireOverdue(tx, { now, packageId: pkg.id });
      return errors.conflict('package_expired', 'The package has expired; no payment can be made for it.');
    }
    if (decision.kind === 'package_not_active') return errors.conflict('package_not_active', `The package is ${pkg.status}; no payment can be made for it.`);
    if (decision.kind === 'currency_mismatch') {
      return errors.validation([{ path: 'body.currency', message: `must be the package currency ${decision.expected}` }], 422, 'The payment is not valid.');
    }
    const payment = await insertPayment(tx, {
      id: randomUUID(),
      packageId: pkg.id,
      studentId: pkg.studentId,
      amountCents: input.amountCents,
      currency: input.currency,
      status: 'pending',
      paidAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const body = paymentView(payment);
    await writeAudit(tx, { actor: auditActorOf(actor), action: 'payment.created', target: `payment:${payment.id}`, before: null, after: body, at: now });
    await recordEvent(tx, { type: 'billing.payment.created', aggregateId: payment.id, payload: paymentEventPayload(payment, null), occurredAt: now });
    if (idempotencyKey) await storeResponse(tx, actor.userId, idempotencyKey, { requestHash: fingerprint, status: 201, body }, now);
    return { status: 201, body, replayed: false };
  });
  if (result instanceof AppError) throw result;
  return result;
}

/**
 * An admin moves a payment along its state machine. Same status → unchanged (no audit, no event);
 * a transition the machine does not allow → 409 invalid_transition. The row is locked while
 * deciding, so two concurrent updates are judged one after the other.
 */
export async function changePaymentStatus(deps: BillingDeps, admin: Actor, id: string, to: PaymentStatus): Promise<Payment> {
  return deps.db.transaction(async (tx) => {
    const payment = await findPayment(tx, id, { forUpdate: true });
    if (!payment) throw errors.notFound('payment');
    const now = deps.clock();
    const decision = decidePaymentTransition(payment, to, now);
    if (decision.kind === 'unchanged') return payment;
    if (decision.kind === 'refused') throw new AppError('invalid_transition', 409, decision.reason);
    const updated = await updatePaymentStatus(tx, id, payment.status, { status: to, paidAt: decision.paidAt, now });
    await writeAudit(tx, {
      actor: auditActorOf(admin),
      action: 'payment.status_changed',
      target: `payment:${id}`,
      before: paymentView(payment),
      after: paymentView(updated),
      at: now,
    });
    await recordEvent(tx, { type: 'billing.payment.status_changed', aggregateId: id, payload: paymentEventPayload(updated, payment.status), occurredAt: now });
    return updated;
  });
}

/** Admin: any payments (optionally of one package). Student: only their own, and only of their own package. */
export async function listPayments(deps: BillingDeps, viewer: Actor, query: PageRequest & { packageId?: string; status?: PaymentStatus }) {
  if (query.packageId) {
    const pkg = await findPackage(deps.db, query.packageId);
    if (!pkg || !canSeePackage(pkg, viewer)) throw errors.notFound('package');
  }
  const studentId = viewer.role === 'admin' ? undefined : viewer.userId;
  return listPaymentRows(deps.db, { packageId: query.packageId, studentId, status: query.status }, query);
}
