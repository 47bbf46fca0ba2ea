import type { DomainEvent } from '@guitaronline/contracts';
import { changeWithFilledEvent, type InboxClaim } from '@guitaronline/messaging';
import { keysetPage, type Page, type PageRequest } from '@guitaronline/platform';
import type { LessonPackage, PackageStatus } from '../domain/package-rules';
import type { Queryable, Tx } from './db';
import { seenBookingRow } from './ledger-repository';

interface PackageRow {
  id: string;
  student_id: string;
  lessons_total: number;
  lessons_left: number;
  status: PackageStatus;
  expires_at: Date;
  price_cents: number;
  currency: string;
  created_at: Date;
  updated_at: Date;
}

const TABLE = 'packages';

function toPackage(row: PackageRow): LessonPackage {
  return {
    id: row.id,
    studentId: row.student_id,
    lessonsTotal: row.lessons_total,
    lessonsLeft: row.lessons_left,
    status: row.status,
    expiresAt: row.expires_at,
    priceCents: row.price_cents,
    currency: row.currency,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function insertPackage(tx: Tx, pkg: LessonPackage): Promise<LessonPackage> {
  const [row] = await tx(TABLE)
    .insert({
      id: pkg.id,
      student_id: pkg.studentId,
      lessons_total: pkg.lessonsTotal,
      lessons_left: pkg.lessonsLeft,
      status: pkg.status,
      expires_at: pkg.expiresAt,
      price_cents: pkg.priceCents,
      currency: pkg.currency,
      created_at: pkg.createdAt,
      updated_at: pkg.updatedAt,
    })
    .returning('*');
  return toPackage(row);
}

export async function findPackage(db: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<LessonPackage | undefined> {
  const query = db(TABLE).where({ id }).first();
  if (options.forUpdate) query.forUpdate();
  const row: PackageRow | undefined = await query;
  return row ? toPackage(row) : undefined;
}

export async function packagesOfStudent(db: Queryable, studentId: string): Promise<LessonPackage[]> {
  const rows: PackageRow[] = await db(TABLE).where({ student_id: studentId }).orderBy('expires_at');
  return rows.map(toPackage);
}

export async function listPackages(
  db: Queryable,
  filter: { studentId?: string; status?: PackageStatus },
  page: PageRequest,
): Promise<Page<LessonPackage>> {
  const query = db(TABLE).select('*');
  if (filter.studentId) query.where('student_id', filter.studentId);
  if (filter.status) query.where('status', filter.status);
  const { items, nextCursor } = await keysetPage<PackageRow>(query, page);
  return { items: items.map(toPackage), nextCursor };
}

/**
 * Marks active packages past their expiry as expired in one statement and returns them (as
 * they are now). Scope: one package, one student's, or any (the sweep, batched). The sweep skips
 * rows another replica is working on; a read waits for them so that it never answers stale.
 */
export async function expireOverduePackages(
  tx: Tx,
  scope: { now: Date; packageId?: string; studentId?: string; limit?: number; skipLocked?: boolean },
): Promise<LessonPackage[]> {
  const due = tx(TABLE).select('id').where('status', 'active').andWhere('expires_at', '<=', scope.now).orderBy('expires_at');
  if (scope.packageId) due.andWhere('id', scope.packageId);
  if (scope.studentId) due.andWhere('student_id', scope.studentId);
  if (scope.limit) due.limit(scope.limit);
  due.forUpdate();
  if (scope.skipLocked) due.skipLocked();
  const rows: PackageRow[] = await tx(TABLE)
    .whereIn('id', due)
    .andWhere('status', 'active')
    .update({ status: 'expired', updated_at: scope.now })
    .returning('*');
  return rows.map(toPackage);
}

const DEBIT_SET = `lessons_left = lessons_left - 1,
  status = case when lessons_left - 1 = 0 then 'depleted' else status end,
  updated_at = :now`;
const DEBITABLE = `status = 'active' and expires_at > :now and lessons_left > 0`;

/** The package a debit takes: the given one if it is the student's and debitable, else the student's debitable package that expires first. */
function chosenPackage(packageId: string | null | undefined): string {
  return packageId
    ? `id = :packageId and student_id = :studentId and ${DEBITABLE}`
    : `id = (select id from packages where student_id = :studentId and ${DEBITABLE}
             order by expires_at, created_at, id limit 1 for update)
       and ${DEBITABLE}`;
}

/**
 * Takes one lesson for a booking in ONE statement (never read-then-write): a conditional UPDATE
 * of the given package if it is the student's, active, unexpired and has lessons left; else of
 * the student's debitable package that expires first — and the booking's debit ledger entry,
 * inserted from what the UPDATE returned. A package reaching 0 becomes depleted in the same
 * statement. Concurrent debits queue on the row lock and re-check the conditions, so the balance
 * can only reach 0 — and the CHECK (lessons_left >= 0) would refuse anything else; the ledger's
 * UNIQUE(booking_id, kind) fails the whole statement on a second debit of the booking.
 */
export async function debitOneLesson(
  tx: Tx,
  input: { bookingId: string; studentId: string; packageId?: string | null; now: Date },
): Promise<LessonPackage | undefined> {
  const bindings = { now: input.now, bookingId: input.bookingId, studentId: input.studentId, packageId: input.packageId ?? null };
  const sql = `with pkg as (update packages set ${DEBIT_SET} where ${chosenPackage(input.packageId)} returning *),
       entry as (insert into package_ledger (booking_id, kind, package_id, student_id, lessons_left_after, created_at)
                 select :bookingId, 'debit', id, student_id, lessons_left, :now from pkg)
     select * from pkg`;
  const result = await tx.raw<{ rows: PackageRow[] }>(sql, bindings);
  return result.rows[0] ? toPackage(result.rows[0]) : undefined;
}

/**
 * The usual debit request as ONE statement, its event included: billing has no record of the
 * booking yet (no debit, rejection or cancel) and the package `debitOneLesson` would choose
 * keeps a lesson after it (so nothing depletes). Then the package, the booking's ledger entry
 * and the outbox row of `billing.lesson.debited` are written together: the event is built
 * beforehand (`debited`, validated as usual) and its package and balance are filled in from the
 * UPDATE. Anything else debits nothing and answers undefined, for the general path.
 *
 * The statement first claims the booking's `seen_bookings` row (an insert that does nothing if
 * the row exists), and "no record yet" means it made that row. Every locked handler of the
 * booking writes the same row before it reads the booking's state (`markBookingSeen`), so the
 * primary key orders this statement against them even where it runs without the booking's
 * lock (`inbox`: the consumer's fast path, which also writes the message's inbox row): it
 * waits for a cancel in flight and then finds the row taken; a cancel waits for it and then
 * sees the debit. Under the lock (the general path tries it first) it is the same statement.
 */
export async function debitFirstRequest(
  db: Queryable,
  input: { bookingId: string; studentId: string; packageId?: string | null; now: Date },
  debited: DomainEvent<'billing.lesson.debited'>,
  options: { inbox?: InboxClaim } = {},
): Promise<LessonPackage | undefined> {
  const bindings = { now: input.now, bookingId: input.bookingId, studentId: input.studentId, packageId: input.packageId ?? null };
  const claim = seenBookingRow(db, input.bookingId, input.now);
  const fresh = db.raw(
    `select from claim
     where not exists (select from package_ledger where booking_id = :bookingId)
       and not exists (select from debit_rejections where booking_id = :bookingId)
       and not exists (select from canceled_bookings where booking_id = :bookingId)`,
    bindings,
  );
  const change = db.raw(`update packages set ${DEBIT_SET} where ${chosenPackage(input.packageId)} and lessons_left > 1 and exists (select from fresh) returning *`, bindings);
  const entry = db.raw(
    `insert into package_ledger (booking_id, kind, package_id, student_id, lessons_left_after, created_at)
     select :bookingId, 'debit', id, student_id, lessons_left, :now from changed`,
    bindings,
  );
  const changed = await changeWithFilledEvent<PackageRow, 'billing.lesson.debited'>(db, change, debited, { packageId: 'changed.id', lessonsLeft: 'changed.lessons_left' }, {
    before: { claim, fresh },
    after: { entry },
    inbox: options.inbox,
  });
  return changed ? toPackage(changed.row) : undefined;
}

/**
 * Gives one lesson back (the ledger guarantees it was taken). A depleted package becomes active
 * again, or expired if its expiry has passed meanwhile. Returns the package and its status before.
 */
export async function creditOneLesson(tx: Tx, packageId: string, now: Date): Promise<{ pkg: LessonPackage; previousStatus: PackageStatus }> {
  const result = await tx.raw<{ rows: (PackageRow & { previous_status: PackageStatus })[] }>(
    `with old as (select id, status from packages where id = :packageId for update)
     update packages p set lessons_left = p.lessons_left + 1,
       status = case when p.status = 'depleted' then (case when p.expires_at > :now then 'active' else 'expired' end) else p.status end,
       updated_at = :now
     from old where p.id = old.id
     returning p.*, old.status as previous_status`,
    { packageId, now },
  );
  const row = result.rows[0];
  if (!row) throw new Error(`package ${packageId} of a ledger debit does not exist`);
  return { pkg: toPackage(row), previousStatus: row.previous_status };
}

export async function countOverdueActivePackages(db: Queryable, now: Date): Promise<number> {
  const row = await db(TABLE).where('status', 'active').andWhere('expires_at', '<=', now).count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}
