import { getContext } from '@guitaronline/platform';
import type { AuditActor } from '../domain/package-rules';
import type { Tx } from './db';

export type AuditAction = 'package.created' | 'package.expired' | 'payment.created' | 'payment.status_changed';

/**
 * Writes an audit record in the caller's transaction (with the state change and its event).
 * The request id and correlation id come from the current context.
 */
export async function writeAudit(
  tx: Tx,
  entry: { actor: AuditActor; action: AuditAction; target: string; before: unknown; after: unknown; at: Date },
): Promise<void> {
  const context = getContext();
  await tx('audit_log').insert({
    actor_id: entry.actor.id,
    actor_role: entry.actor.role,
    action: entry.action,
    target: entry.target,
    request_id: context.requestId ?? null,
    correlation_id: context.correlationId ?? null,
    before: entry.before === null || entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === null || entry.after === undefined ? null : JSON.stringify(entry.after),
    at: entry.at,
  });
}
