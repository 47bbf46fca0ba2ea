import { randomUUID } from 'node:crypto';
import { recordEvent } from '@guitaronline/messaging';
import type { Knex } from '@guitaronline/platform';
import { anyAdminExists, findUserByEmail, insertUser, makeAdmin, type User } from '../data/user-repository';
import { normaliseEmail, type IdentityDeps } from './identity-deps';

export type AdminOutcome = 'created' | 'promoted' | 'updated' | 'skipped';

// every admin creation (CLI, bootstrap on any replica) is serialised by one advisory lock
const ADMIN_LOCK = 'guitaronline:identity:admin';

async function ensureAdmin(trx: Knex.Transaction, now: Date, input: { email: string; passwordHash: string; fullName: string }): Promise<{ user: User; outcome: AdminOutcome }> {
  const existing = await findUserByEmail(trx, input.email, { forUpdate: true });
  if (!existing) {
    const user = await insertUser(trx, { id: randomUUID(), email: input.email, fullName: input.fullName, role: 'admin', passwordHash: input.passwordHash, createdAt: now });
    await recordEvent(trx, { type: 'identity.user.registered', aggregateId: user.id, occurredAt: now, payload: { userId: user.id, email: user.email, role: 'admin', fullName: user.fullName } });
    return { user, outcome: 'created' };
  }
  const user = await makeAdmin(trx, existing.id, input.passwordHash, now);
  if (existing.role === 'admin') return { user, outcome: 'updated' };
  // consumers keep users by id; a promotion reaches them as the same event with the new role
  await recordEvent(trx, { type: 'identity.user.registered', aggregateId: user.id, occurredAt: now, payload: { userId: user.id, email: user.email, role: 'admin', fullName: user.fullName } });
  return { user, outcome: 'promoted' };
}

/**
 * The operator's command: makes `email` an admin with `password` — created when new,
 * promoted when a student or teacher, password reset when already an admin. Running it
 * again changes nothing more.
 */
export async function createOrPromoteAdmin(
  deps: Pick<IdentityDeps, 'db' | 'clock' | 'hasher'>,
  input: { email: string; password: string; fullName?: string },
): Promise<{ user: User; outcome: AdminOutcome }> {
  const passwordHash = await deps.hasher.hash(input.password);
  return deps.db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [ADMIN_LOCK]);
    return ensureAdmin(trx, deps.clock(), { email: normaliseEmail(input.email), passwordHash, fullName: input.fullName ?? 'Administrator' });
  });
}

/**
 * `BOOTSTRAP_ADMIN_*` at start: creates the first admin only while none exists. Replicas
 * starting together queue on the advisory lock; the later ones find the admin and skip.
 */
export async function bootstrapAdmin(deps: Pick<IdentityDeps, 'db' | 'clock' | 'hasher'>, input: { email: string; password: string }): Promise<{ user?: User; outcome: AdminOutcome }> {
  if (await anyAdminExists(deps.db)) return { outcome: 'skipped' };
  const passwordHash = await deps.hasher.hash(input.password);
  return deps.db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [ADMIN_LOCK]);
    if (await anyAdminExists(trx)) return { outcome: 'skipped' as const };
    return ensureAdmin(trx, deps.clock(), { email: normaliseEmail(input.email), passwordHash, fullName: 'Administrator' });
  });
}
