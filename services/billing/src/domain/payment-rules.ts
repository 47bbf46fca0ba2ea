import { isPastExpiry, type LessonPackage } from './package-rules';

/** Payments and their state machine (monolith rules); pure. */
export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'refunded';

export interface Payment {
  id: string;
  packageId: string;
  studentId: string;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  paidAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** pending → succeeded | failed; failed → pending | succeeded (reconciliation retry); succeeded → refunded. */
export const paymentTransitions: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  pending: ['succeeded', 'failed'],
  failed: ['pending', 'succeeded'],
  succeeded: ['refunded'],
  refunded: [],
};

export type TransitionDecision = { kind: 'unchanged' } | { kind: 'refused'; reason: string } | { kind: 'change'; paidAt: Date | null };

/** Same status is a no-op; `paidAt` is set on the first success and kept afterwards (refund included). */
export function decidePaymentTransition(payment: Pick<Payment, 'status' | 'paidAt'>, to: PaymentStatus, now: Date): TransitionDecision {
  if (payment.status === to) return { kind: 'unchanged' };
  if (!paymentTransitions[payment.status].includes(to)) {
    return { kind: 'refused', reason: `A ${payment.status} payment cannot become ${to}.` };
  }
  return { kind: 'change', paidAt: to === 'succeeded' ? (payment.paidAt ?? now) : payment.paidAt };
}

export type PaymentCreationDecision =
  | { kind: 'ok' }
  | { kind: 'package_expired' }
  | { kind: 'package_not_active' }
  | { kind: 'currency_mismatch'; expected: string };

/** No payment for a package past its expiry (this check wins) or not active; the currency is the package's. */
export function decidePaymentCreation(pkg: Pick<LessonPackage, 'status' | 'expiresAt' | 'currency'>, input: { currency: string }, now: Date): PaymentCreationDecision {
  if (isPastExpiry(pkg, now) || pkg.status === 'expired') return { kind: 'package_expired' };
  if (pkg.status !== 'active') return { kind: 'package_not_active' };
  if (pkg.currency !== input.currency) return { kind: 'currency_mismatch', expected: pkg.currency };
  return { kind: 'ok' };
}

export function paymentEventPayload(payment: Payment, from: PaymentStatus | null) {
  return {
    paymentId: payment.id,
    packageId: payment.packageId,
    studentId: payment.studentId,
    amountCents: payment.amountCents,
    currency: payment.currency,
    from,
    to: payment.status,
  };
}

/** The public shape of a payment (API.md `Payment`); also what the audit log and idempotency replay keep. */
export function paymentView(payment: Payment) {
  return {
    id: payment.id,
    packageId: payment.packageId,
    studentId: payment.studentId,
    amountCents: payment.amountCents,
    currency: payment.currency,
    status: payment.status,
    paidAt: payment.paidAt ? payment.paidAt.toISOString() : null,
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
  };
}
