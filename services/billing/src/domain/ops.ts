import { outboxBacklog } from '@guitaronline/messaging';
import { countOverdueActivePackages } from '../data/package-repository';
import type { BillingDeps } from './deps';

/** Figures for the admin operations overview: outbox backlog and packages the sweep has not reached yet. */
export async function billingOps(deps: Pick<BillingDeps, 'db' | 'clock'>) {
  const [outbox, overdueActivePackages] = await Promise.all([outboxBacklog(deps.db), countOverdueActivePackages(deps.db, deps.clock())]);
  return { outbox, overdueActivePackages };
}
