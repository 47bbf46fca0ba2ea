import { randomUUID } from 'node:crypto';
import { recordEvent } from '@guitaronline/messaging';
import { errors, type PageRequest } from '@guitaronline/platform';
import { writeAudit } from '../data/audit-repository';
import type { Tx } from '../data/db';
import { expireOverduePackages, findPackage, insertPackage, listPackages as listPackageRows } from '../data/package-repository';
import type { BillingDeps } from './deps';
import {
  auditActorOf,
  canSeePackage,
  isOverdue,
  newPackageProblems,
  packageEventPayload,
  packageView,
  systemActor,
  type Actor,
  type AuditActor,
  type LessonPackage,
  type PackageStatus,
} from './package-rules';

/**
 * Persists "expired" for the overdue active packages in scope, each with its audit record and
 * `billing.package.expired`, in the caller's transaction. Every read of packages goes through
 * here first, so nobody is ever shown an active package past its expiry.
 */
export async function expireOverdue(
  tx: Tx,
  scope: { now: Date; packageId?: string; studentId?: string; limit?: number; skipLocked?: boolean },
  actor: AuditActor = systemActor,
): Promise<LessonPackage[]> {
  const expired = await expireOverduePackages(tx, scope);
  for (const pkg of expired) {
    await writeAudit(tx, {
      actor,
      action: 'package.expired',
      target: `package:${pkg.id}`,
      before: { ...packageView(pkg), status: 'active' },
      after: packageView(pkg),
      at: scope.now,
    });
    await recordEvent(tx, { type: 'billing.package.expired', aggregateId: pkg.id, payload: packageEventPayload(pkg), occurredAt: scope.now });
  }
  return expired;
}

/** An admin sells a package: active, all lessons left; audited and announced in the same transaction. */
export async function createPackage(
  deps: BillingDeps,
  admin: Actor,
  input: { studentId: string; lessonsTotal: number; expiresAt: string; priceCents: number; currency: string },
): Promise<LessonPackage> {
  const now = deps.clock();
  const expiresAt = new Date(input.expiresAt);
  const problems = newPackageProblems({ expiresAt }, now);
  if (problems.length > 0) throw errors.validation(problems, 422, 'The package is not valid.');
  return deps.db.transaction(async (tx) => {
    const pkg = await insertPackage(tx, {
      id: randomUUID(),
      studentId: input.studentId,
      lessonsTotal: input.lessonsTotal,
      lessonsLeft: input.lessonsTotal,
      status: 'active',
      expiresAt,
      priceCents: input.priceCents,
      currency: input.currency,
      createdAt: now,
      updatedAt: now,
    });
    await writeAudit(tx, { actor: auditActorOf(admin), action: 'package.created', target: `package:${pkg.id}`, before: null, after: packageView(pkg), at: now });
    await recordEvent(tx, { type: 'billing.package.created', aggregateId: pkg.id, payload: packageEventPayload(pkg), occurredAt: now });
    return pkg;
  });
}

/** Its student or an admin reads a package (expired first if it is past its expiry); anyone else: 404. */
export async function getPackage(deps: BillingDeps, viewer: Actor, id: string): Promise<LessonPackage> {
  return deps.db.transaction(async (tx) => {
    const pkg = await findPackage(tx, id);
    if (!pkg || !canSeePackage(pkg, viewer)) throw errors.notFound('package');
    const now = deps.clock();
    if (!isOverdue(pkg, now)) return pkg;
    const [expired] = await expireOverdue(tx, { now, packageId: id });
    return expired ?? (await findPackage(tx, id))!;
  });
}

export async function listMyPackages(deps: BillingDeps, student: Actor, query: PageRequest & { status?: PackageStatus }) {
  return deps.db.transaction(async (tx) => {
    await expireOverdue(tx, { now: deps.clock(), studentId: student.userId });
    return listPackageRows(tx, { studentId: student.userId, status: query.status }, query);
  });
}

export async function listPackages(deps: BillingDeps, query: PageRequest & { studentId?: string; status?: PackageStatus }) {
  return deps.db.transaction(async (tx) => {
    await expireOverdue(tx, { now: deps.clock(), studentId: query.studentId });
    return listPackageRows(tx, { studentId: query.studentId, status: query.status }, query);
  });
}

/**
 * Expires every overdue active package, in batches of `batchSize` (one transaction each; rows
 * another replica is expiring are skipped, it reports them). Used by the sweep and the admin endpoint.
 */
export async function expireAllOverdue(deps: BillingDeps, actor: AuditActor, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.clock();
    const expired = await deps.db.transaction((tx) => expireOverdue(tx, { now, limit: batchSize, skipLocked: true }, actor));
    total += expired.length;
    if (expired.length < batchSize) return total;
  }
}
