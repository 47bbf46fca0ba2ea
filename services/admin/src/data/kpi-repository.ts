import type { Knex } from 'knex';
import {
  bookingStatuses,
  lessonStatuses,
  packageStatuses,
  paymentStatuses,
  userRoles,
  foldChanges,
  type KpiChange,
  type StateKey,
} from '../domain/kpi-rules';

type Db = Knex | Knex.Transaction;

export const KPI_TABLES = ['kpi_users', 'kpi_bookings', 'kpi_lessons', 'kpi_payments', 'kpi_packages'] as const;

const tableOf: Record<KpiChange['entity'], { table: string; id: string }> = {
  user: { table: 'kpi_users', id: 'user_id' },
  booking: { table: 'kpi_bookings', id: 'booking_id' },
  lesson: { table: 'kpi_lessons', id: 'lesson_id' },
  payment: { table: 'kpi_payments', id: 'payment_id' },
  package: { table: 'kpi_packages', id: 'package_id' },
};

function stateColumns(change: KpiChange): Record<string, unknown> {
  switch (change.entity) {
    case 'user':
      return { role: change.role };
    case 'booking':
      return { status: change.status };
    case 'lesson':
      return { status: change.status, booking_id: change.bookingId };
    case 'payment':
      return { status: change.status, package_id: change.packageId, amount_cents: change.amountCents, currency: change.currency };
    case 'package':
      return { status: change.status, lessons_left: change.lessonsLeft };
  }
}

/** Links are facts, not states: kept once known, whichever event brought them and whatever its key. */
function linkColumns(change: KpiChange): Record<string, unknown> {
  if (change.entity !== 'booking') return {};
  return { rescheduled_from_id: change.rescheduledFromId ?? null, rescheduled_to_id: change.rescheduledToId ?? null };
}

function keyColumns(key: StateKey): Record<string, unknown> {
  return { terminal: key.terminal, occurred_at: key.occurredAt, rank: key.rank, event_id: key.eventId };
}

const NEWER = '(excluded.terminal, excluded.occurred_at, excluded.rank, excluded.event_id) > (t.terminal, t.occurred_at, t.rank, t.event_id)';

/**
 * Upserts entity states (one entity kind, distinct ids) in one statement. A stored state is
 * replaced only by a greater key — a row comparison in SQL, the rule of domain/kpi-rules.ts —
 * so the write is idempotent and order-independent, also between concurrent consumers.
 */
async function upsertStates(db: Db, entity: KpiChange['entity'], changes: readonly KpiChange[]): Promise<void> {
  if (changes.length === 0) return;
  const { table, id } = tableOf[entity];
  const rows = changes.map((c) => ({ [id]: c.id, ...stateColumns(c), ...linkColumns(c), ...keyColumns(c.key) }));
  const columns = Object.keys(rows[0]);
  const links = Object.keys(linkColumns(changes[0]));
  const sets = columns
    .filter((c) => c !== id)
    .map((c) => (links.includes(c) ? `?? = coalesce(t.??, excluded.??)` : `?? = case when ${NEWER} then excluded.?? else t.?? end`));
  const setBindings = columns.filter((c) => c !== id).flatMap((c) => [c, c, c]);
  await db.raw(
    `insert into ?? as t (${columns.map(() => '??').join(', ')})
     values ${rows.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ')}
     on conflict (??) do update set ${sets.join(', ')}`,
    [table, ...columns, ...rows.flatMap((r) => columns.map((c) => r[c])), id, ...setBindings],
  );
}

/** Applies the states some events imply; any number of events, any order, any repetition. */
export async function applyKpiChanges(db: Db, changes: readonly KpiChange[]): Promise<void> {
  const folded = foldChanges(changes);
  for (const entity of Object.keys(tableOf) as KpiChange['entity'][]) {
    const mine = folded.filter((c) => c.entity === entity);
    // bounded statements: at most 500 rows each
    for (let i = 0; i < mine.length; i += 500) await upsertStates(db, entity, mine.slice(i, i + 500));
  }
}

/** Empties the read model (inside a rebuild's transaction, after locking the tables). */
export async function clearKpi(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`lock table ${KPI_TABLES.join(', ')} in exclusive mode`);
  for (const table of KPI_TABLES) await trx(table).del();
}

function countsOf<K extends string>(keys: readonly K[], rows: { k: string; n: number }[]): Record<K, number> & { total: number } {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number> & { total: number };
  let total = 0;
  for (const row of rows) {
    if ((keys as readonly string[]).includes(row.k)) (out as Record<string, number>)[row.k] = row.n;
    total += row.n;
  }
  out.total = total;
  return out;
}

async function groupCount(db: Db, table: string, column: string): Promise<{ k: string; n: number }[]> {
  return db(table).select({ k: column }).count<{ k: string; n: number }[]>({ n: '*' }).groupBy(column).then((rows) =>
    rows.map((r) => ({ k: String(r.k), n: Number(r.n) })),
  );
}

export interface KpiCounts {
  users: Record<(typeof userRoles)[number], number> & { total: number };
  bookings: Record<(typeof bookingStatuses)[number], number> & { total: number };
  lessons: Record<(typeof lessonStatuses)[number], number> & { total: number };
  payments: Record<(typeof paymentStatuses)[number], number> & { total: number };
  packages: Record<(typeof packageStatuses)[number], number> & { total: number };
  amounts: { currency: string; succeededAmountCents: number; refundedAmountCents: number }[];
}

/** Counts by state, computed at read time (GROUP BY over one row per entity). */
export async function readKpiCounts(db: Db): Promise<KpiCounts> {
  const [users, bookings, lessons, payments, packages, amounts] = await Promise.all([
    groupCount(db, 'kpi_users', 'role'),
    groupCount(db, 'kpi_bookings', 'status'),
    groupCount(db, 'kpi_lessons', 'status'),
    groupCount(db, 'kpi_payments', 'status'),
    groupCount(db, 'kpi_packages', 'status'),
    // a refunded payment had succeeded first: it counts in the succeeded amount and in the refunded one
    db('kpi_payments')
      .select('currency')
      .select(db.raw(`coalesce(sum(amount_cents) filter (where status in ('succeeded', 'refunded')), 0)::bigint as succeeded`))
      .select(db.raw(`coalesce(sum(amount_cents) filter (where status = 'refunded'), 0)::bigint as refunded`))
      .groupBy('currency')
      .orderBy('currency') as Promise<{ currency: string; succeeded: string; refunded: string }[]>,
  ]);
  return {
    users: countsOf(userRoles, users),
    bookings: countsOf(bookingStatuses, bookings),
    lessons: countsOf(lessonStatuses, lessons),
    payments: countsOf(paymentStatuses, payments),
    packages: countsOf(packageStatuses, packages),
    amounts: amounts.map((a) => ({ currency: a.currency.trim(), succeededAmountCents: Number(a.succeeded), refundedAmountCents: Number(a.refunded) })),
  };
}
