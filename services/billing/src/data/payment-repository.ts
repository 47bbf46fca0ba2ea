import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';
import type { Payment, PaymentStatus } from '../domain/payment-rules';
import type { Queryable, Tx } from './db';

interface PaymentRow {
  id: string;
  package_id: string;
  student_id: string;
  amount_cents: number;
  currency: string;
  status: PaymentStatus;
  paid_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const TABLE = 'payments';

function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    packageId: row.package_id,
    studentId: row.student_id,
    amountCents: row.amount_cents,
    currency: row.currency,
    status: row.status,
    paidAt: row.paid_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function insertPayment(tx: Tx, payment: Payment): Promise<Payment> {
  const [row] = await tx(TABLE)
    .insert({
      id: payment.id,
      package_id: payment.packageId,
      student_id: payment.studentId,
      amount_cents: payment.amountCents,
      currency: payment.currency,
      status: payment.status,
      paid_at: payment.paidAt,
      created_at: payment.createdAt,
      updated_at: payment.updatedAt,
    })
    .returning('*');
  return toPayment(row);
}

export async function findPayment(db: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<Payment | undefined> {
  const query = db(TABLE).where({ id }).first();
  if (options.forUpdate) query.forUpdate();
  const row: PaymentRow | undefined = await query;
  return row ? toPayment(row) : undefined;
}

/** Moves a payment from the status it was read in (under its row lock) to the next one. */
export async function updatePaymentStatus(tx: Tx, id: string, from: PaymentStatus, change: { status: PaymentStatus; paidAt: Date | null; now: Date }): Promise<Payment> {
  const rows: PaymentRow[] = await tx(TABLE)
    .where({ id, status: from })
    .update({ status: change.status, paid_at: change.paidAt, updated_at: change.now })
    .returning('*');
  if (!rows[0]) throw new Error(`payment ${id} changed under its row lock`);
  return toPayment(rows[0]);
}

export async function listPayments(
  db: Queryable,
  filter: { packageId?: string; studentId?: string; status?: PaymentStatus },
  page: PageRequest,
): Promise<Page<Payment>> {
  const query = db(TABLE).select('*');
  if (filter.packageId) query.where('package_id', filter.packageId);
  if (filter.studentId) query.where('student_id', filter.studentId);
  if (filter.status) query.where('status', filter.status);
  const { items, nextCursor } = await keysetPage<PaymentRow>(query, page);
  return { items: items.map(toPayment), nextCursor };
}
