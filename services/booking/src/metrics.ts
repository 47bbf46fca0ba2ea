import { prom, type Registry } from '@guitaronline/platform';
import type { BookingMetrics } from './domain/deps';

/** Booking's own Prometheus metrics; the gauges are computed on scrape. */
export function bookingMetrics(registry: Registry, gauges: { stuckConfirming: () => Promise<number>; staleHolds: () => Promise<number> }): BookingMetrics {
  const expired = new prom.Counter({
    name: 'booking_holds_expired_total',
    help: 'Holds expired, by what found them (sweep, admin endpoint, lazily on access)',
    labelNames: ['trigger'],
    registers: [registry],
  });
  const watchdog = new prom.Counter({
    name: 'booking_confirm_watchdog_total',
    help: 'Bookings stuck in confirming that the watchdog re-requested or rejected',
    labelNames: ['action'],
    registers: [registry],
  });
  const compensations = new prom.Counter({
    name: 'booking_debit_compensations_total',
    help: 'Debits that arrived for a booking that was no longer confirming, answered with a refundable cancel',
    registers: [registry],
  });
  new prom.Gauge({
    name: 'booking_stuck_confirming',
    help: 'Bookings in confirming for longer than the confirm timeout',
    registers: [registry],
    async collect() {
      const n = await gauges.stuckConfirming().catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
  new prom.Gauge({
    name: 'booking_stale_holds',
    help: 'Holds past their expiry that the sweep has not yet expired',
    registers: [registry],
    async collect() {
      const n = await gauges.staleHolds().catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
  return {
    holdsExpired: (trigger, count) => {
      if (count > 0) expired.inc({ trigger }, count);
    },
    watchdog: (action) => watchdog.inc({ action }),
    compensated: () => compensations.inc(),
  };
}
