import { z } from '../zod';
import { cents, currency, isoDateTime, uuid } from '../primitives';
import { pageOf, pageQuery } from './common';

export const packageStatus = z.enum(['active', 'depleted', 'expired', 'canceled']);
export type PackageStatus = z.infer<typeof packageStatus>;
export const paymentStatus = z.enum(['pending', 'succeeded', 'failed', 'refunded']);
export type PaymentStatus = z.infer<typeof paymentStatus>;

export const packageSchema = z
  .object({
    id: uuid,
    studentId: uuid,
    lessonsTotal: z.number().int(),
    lessonsLeft: z.number().int(),
    status: packageStatus,
    expiresAt: isoDateTime,
    priceCents: cents,
    currency,
    createdAt: isoDateTime,
  })
  .openapi('Package');
export type PackageDto = z.infer<typeof packageSchema>;

export const paymentSchema = z
  .object({
    id: uuid,
    packageId: uuid,
    studentId: uuid,
    amountCents: cents,
    currency,
    status: paymentStatus,
    paidAt: isoDateTime.nullable(),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
  .openapi('Payment');
export type PaymentDto = z.infer<typeof paymentSchema>;

export const createPackageBody = z
  .strictObject({
    studentId: uuid,
    lessonsTotal: z.number().int().min(1).max(1000),
    expiresAt: isoDateTime,
    priceCents: cents,
    currency,
  })
  .openapi('CreatePackageRequest');
export type CreatePackageBody = z.infer<typeof createPackageBody>;

export const createPaymentBody = z
  .strictObject({ packageId: uuid, amountCents: cents, currency })
  .openapi('CreatePaymentRequest');
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

export const paymentStatusBody = z.strictObject({ status: paymentStatus }).openapi('PaymentStatusUpdate');

/** `Idempotency-Key` header of POST /billing/payments: 1–255 visible ASCII characters. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7E]+$/, 'visible ASCII characters only');

export const idParams = z.object({ id: uuid });
export const myPackagesQuery = pageQuery.extend({ status: packageStatus.optional() });
export const packagesQuery = pageQuery.extend({ studentId: uuid.optional(), status: packageStatus.optional() });
export const paymentsQuery = pageQuery.extend({ packageId: uuid.optional(), status: paymentStatus.optional() });

export const packagePage = pageOf(packageSchema).openapi('PackagePage');
export const paymentPage = pageOf(paymentSchema).openapi('PaymentPage');
export const expireResult = z.object({ expired: z.number().int().nonnegative() }).openapi('ExpirePackagesResult');

/** GET /internal/ops (admin token): figures for the admin service's operations overview. */
export const billingOpsSchema = z
  .object({
    outbox: z.object({ pending: z.number().int().nonnegative(), oldestPendingSeconds: z.number().nonnegative() }),
    overdueActivePackages: z.number().int().nonnegative(),
  })
  .openapi('BillingOps');
export type BillingOps = z.infer<typeof billingOpsSchema>;
