import type { BatchHandler, EventHandler, EventHandlers } from '@guitaronline/messaging';
import { eventTypes } from '@guitaronline/contracts';
import { appendEvents } from '../data/event-log-repository';
import { applyKpiChanges } from '../data/kpi-repository';
import { kpiChangesOf } from '../domain/kpi-rules';

/**
 * Admin consumes every event type of the catalogue: each is written to the event log (traces,
 * KPI rebuilds) and folded into the KPI read model, in the consumer's transaction.
 * - twice: the inbox skips a redelivery; even without it, the log insert is keyed by event id and
 *   the KPI write keeps the greatest state key, so a second application changes nothing;
 * - early / late: the KPI rule does not depend on arrival order (domain/kpi-rules.ts), so a
 *   `booking.confirmed` arriving before `booking.held` still ends as confirmed.
 */
export const logAndApplyEvents: BatchHandler = async (trx, events) => {
  const fresh = await appendEvents(trx, events);
  if (fresh.length === 0) return;
  await applyKpiChanges(
    trx,
    fresh.flatMap((event) => kpiChangesOf(event)),
  );
};

/** One event: the batch of one. */
export const logAndApplyEvent: EventHandler = (trx, event) => logAndApplyEvents(trx, [event]);

export function eventLogHandlers(): EventHandlers {
  return Object.fromEntries(eventTypes.map((type) => [type, logAndApplyEvent])) as EventHandlers;
}
