import type { ServiceName } from '@guitaronline/contracts';
import { queueNames } from '@guitaronline/messaging';
import { consumingServices } from './event-consumers';

export interface ServiceQueueSet {
  service: ServiceName;
  main: string;
  retries: string[];
  dlq: string;
}

/**
 * The queues every consuming service declares (EVENTS.md: `<service>.events`, its retry tiers
 * and `.dlq`), under this deployment's queue-name prefix (empty in production, one per test bus).
 */
export function knownQueues(prefix: string, retryTiers: number): ServiceQueueSet[] {
  return consumingServices.map((service) => ({ service, ...queueNames(`${prefix}${service}`, retryTiers) }));
}

export function allQueueNames(sets: readonly ServiceQueueSet[]): string[] {
  return sets.flatMap((s) => [s.main, ...s.retries, s.dlq]);
}

/** A dead-letter queue named by its full name or by its service; undefined when it is not one of ours. */
export function resolveDeadLetterQueue(sets: readonly ServiceQueueSet[], name: string): ServiceQueueSet | undefined {
  return sets.find((s) => s.dlq === name || s.service === name);
}

/**
 * Where a parked message goes back to: the queue it was parked from (`x-source-queue`) when that
 * is the main queue of the same service, else that service's main queue. A header never sends a
 * message into a queue of another service or outside this deployment.
 */
export function redriveTarget(set: ServiceQueueSet, sourceQueueHeader: unknown): string {
  return typeof sourceQueueHeader === 'string' && sourceQueueHeader === set.main ? sourceQueueHeader : set.main;
}
