/** Lesson packages and their rules; pure (no express, broker or database here). */
export type PackageStatus = 'active' | 'depleted' | 'expired' | 'canceled';
export type DebitRejectReason = 'no_active_package' | 'package_expired' | 'insufficient_lessons';

export interface LessonPackage {
  id: string;
  studentId: string;
  lessonsTotal: number;
  lessonsLeft: number;
  status: PackageStatus;
  expiresAt: Date;
  priceCents: number;
  currency: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface Actor {
  userId: string;
  role: 'student' | 'teacher' | 'admin';
}

/** Who did something that is audited: a user, or the service itself (sweeps, expiry on read). */
export interface AuditActor {
  id: string;
  role: 'student' | 'teacher' | 'admin' | 'system';
}

export const systemActor: AuditActor = { id: 'system', role: 'system' };

export function auditActorOf(actor: Actor): AuditActor {
  return { id: actor.userId, role: actor.role };
}

/** A package is past its expiry from the instant `expiresAt` is reached. */
export function isPastExpiry(pkg: Pick<LessonPackage, 'expiresAt'>, now: Date): boolean {
  return pkg.expiresAt.getTime() <= now.getTime();
}

/** An active package past its expiry must be persisted as expired before anyone sees it. */
export function isOverdue(pkg: Pick<LessonPackage, 'status' | 'expiresAt'>, now: Date): boolean {
  return pkg.status === 'active' && isPastExpiry(pkg, now);
}

/** Its student and admins see a package; to anyone else it does not exist. */
export function canSeePackage(pkg: Pick<LessonPackage, 'studentId'>, viewer: Actor): boolean {
  return viewer.role === 'admin' || (viewer.role === 'student' && pkg.studentId === viewer.userId);
}

/**
 * Why a booking of this student could not be debited, judged from the student's packages after
 * the conditional debit found nothing (overdue ones already expired).
 * With an explicit package: only that package counts (no silent fallback to another one); one
 * that is not the student's is reported as `no_active_package`, revealing nothing about it.
 * Without: a live package without lessons → `insufficient_lessons`; else an expired one →
 * `package_expired`; else `no_active_package`.
 */
export function debitRejectionReason(packages: LessonPackage[], now: Date, requestedPackageId?: string | null): DebitRejectReason {
  if (requestedPackageId) {
    const pkg = packages.find((p) => p.id === requestedPackageId);
    if (!pkg || pkg.status === 'canceled') return 'no_active_package';
    if (pkg.status === 'expired' || isPastExpiry(pkg, now)) return 'package_expired';
    return 'insufficient_lessons';
  }
  const live = packages.filter((p) => (p.status === 'active' || p.status === 'depleted') && !isPastExpiry(p, now));
  if (live.length > 0) return 'insufficient_lessons';
  if (packages.some((p) => p.status === 'expired' || (p.status !== 'canceled' && isPastExpiry(p, now)))) return 'package_expired';
  return 'no_active_package';
}

/** Checks of a new package that the schema cannot express. */
export function newPackageProblems(input: { expiresAt: Date }, now: Date): { path: string; message: string }[] {
  return input.expiresAt.getTime() <= now.getTime() ? [{ path: 'body.expiresAt', message: 'must be in the future' }] : [];
}

export function packageEventPayload(pkg: LessonPackage) {
  return {
    packageId: pkg.id,
    studentId: pkg.studentId,
    lessonsTotal: pkg.lessonsTotal,
    lessonsLeft: pkg.lessonsLeft,
    expiresAt: pkg.expiresAt.toISOString(),
    priceCents: pkg.priceCents,
    currency: pkg.currency,
  };
}

/** The public shape of a package (API.md `Package`); also what the audit log keeps. */
export function packageView(pkg: LessonPackage) {
  return {
    id: pkg.id,
    studentId: pkg.studentId,
    lessonsTotal: pkg.lessonsTotal,
    lessonsLeft: pkg.lessonsLeft,
    status: pkg.status,
    expiresAt: pkg.expiresAt.toISOString(),
    priceCents: pkg.priceCents,
    currency: pkg.currency,
    createdAt: pkg.createdAt.toISOString(),
  };
}
