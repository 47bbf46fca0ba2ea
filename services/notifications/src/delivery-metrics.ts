import type { Knex } from 'knex';
import { prom, type Registry } from '@guitaronline/platform';
import type { DeliveryOutcomeListener } from './domain/delivery-worker';

/**
 * Prometheus figures of the delivery worker: notifications_sent_total{channel},
 * notifications_failed_total{channel} (every failed attempt), deliveries_dead_total
 * (dead-lettered deliveries), notifications_postponed_total{channel} (breaker open), and a
 * gauge of unsettled deliveries read from the schedule at scrape time.
 */
export function deliveryMetrics(registry: Registry, knex: Knex): DeliveryOutcomeListener {
  const sent = new prom.Counter({ name: 'notifications_sent_total', help: 'Deliveries acknowledged by the receiver', labelNames: ['channel'], registers: [registry] });
  const failed = new prom.Counter({ name: 'notifications_failed_total', help: 'Failed delivery attempts', labelNames: ['channel'], registers: [registry] });
  const dead = new prom.Counter({ name: 'deliveries_dead_total', help: 'Deliveries dead-lettered after the last attempt', labelNames: ['channel'], registers: [registry] });
  const postponed = new prom.Counter({
    name: 'notifications_postponed_total',
    help: 'Deliveries postponed because the channel circuit breaker was open',
    labelNames: ['channel'],
    registers: [registry],
  });
  new prom.Gauge({
    name: 'deliveries_unsettled',
    help: 'Deliveries not yet sent, dead or canceled',
    labelNames: ['channel'],
    registers: [registry],
    async collect() {
      const rows: { channel: string; n: number }[] = await knex('deliveries')
        .whereIn('status', ['pending', 'sending', 'failed'])
        .select('channel', knex.raw('count(*)::int as n'))
        .groupBy('channel')
        .catch(() => []);
      this.reset();
      for (const channel of ['email', 'webhook']) this.set({ channel }, rows.find((r) => r.channel === channel)?.n ?? 0);
    },
  });
  for (const channel of ['email', 'webhook']) {
    sent.inc({ channel }, 0);
    failed.inc({ channel }, 0);
    dead.inc({ channel }, 0);
  }
  return {
    sent: (channel) => sent.inc({ channel }),
    failed: (channel) => failed.inc({ channel }),
    dead: (channel) => dead.inc({ channel }),
    postponed: (channel) => postponed.inc({ channel }),
  };
}
