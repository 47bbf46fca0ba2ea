import type { Knex } from 'knex';
import { kpiChangesOf } from '../domain/kpi-rules';
import { allEventsInOrder, toEnvelope } from './event-log-repository';
import { applyKpiChanges, clearKpi } from './kpi-repository';

/**
 * Rebuilds the KPI read model from the event log in one transaction: the tables are locked,
 * emptied and refilled by the same rule the consumers apply, so readers see either the old or
 * the new model and the numbers match what live consumption gave. A consumer that commits
 * during the rebuild waits on the table lock and applies its event afterwards (idempotent).
 */
export async function rebuildKpi(db: Knex): Promise<{ events: number }> {
  return db.transaction(async (trx) => {
    await clearKpi(trx);
    let events = 0;
    for await (const batch of allEventsInOrder(trx)) {
      // a whole batch folds to one state per entity and a few multi-row upserts
      await applyKpiChanges(trx, batch.flatMap((event) => kpiChangesOf(toEnvelope(event))));
      events += batch.length;
    }
    return { events };
  });
}
