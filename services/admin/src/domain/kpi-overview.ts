import type { adminHttp } from '@guitaronline/contracts';

export interface KpiCountsLike {
  users: adminHttp.KpiOverview['users'];
  bookings: adminHttp.KpiOverview['bookings'];
  lessons: adminHttp.KpiOverview['lessons'];
  payments: Pick<adminHttp.KpiOverview['payments'], 'pending' | 'succeeded' | 'failed' | 'refunded' | 'total'>;
  packages: adminHttp.KpiOverview['packages'];
  amounts: { currency: string; succeededAmountCents: number; refundedAmountCents: number }[];
}

/**
 * The KPI overview from the per-state counts. Amounts: `succeededAmountCents` is what every
 * payment that succeeded brought in — a later refund does not erase that it succeeded;
 * `refundedAmountCents` is what went back; `netAmountCents` = succeeded − refunded, i.e. the
 * payments that are succeeded now. Per currency in `byCurrency`; the top-level sums add them up.
 */
export function toKpiOverview(counts: KpiCountsLike, asOf: string | null): adminHttp.KpiOverview {
  const byCurrency: adminHttp.KpiOverview['payments']['byCurrency'] = {};
  let succeeded = 0;
  let refunded = 0;
  for (const a of counts.amounts) {
    byCurrency[a.currency] = {
      succeededAmountCents: a.succeededAmountCents,
      refundedAmountCents: a.refundedAmountCents,
      netAmountCents: a.succeededAmountCents - a.refundedAmountCents,
    };
    succeeded += a.succeededAmountCents;
    refunded += a.refundedAmountCents;
  }
  return {
    users: counts.users,
    bookings: counts.bookings,
    lessons: counts.lessons,
    payments: {
      ...counts.payments,
      succeededAmountCents: succeeded,
      refundedAmountCents: refunded,
      netAmountCents: succeeded - refunded,
      byCurrency,
    },
    packages: counts.packages,
    asOf,
  };
}
