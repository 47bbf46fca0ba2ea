import type { Knex } from 'knex';

/**
 * Named (server-side prepared) statements for knex's pg client.
 *
 * knex sends every parameterised statement as an unnamed one, so Postgres parses and plans it
 * again on every execution. Naming a statement makes pg parse it once per connection and then
 * only bind and execute it; Postgres also caches its plan (a generic plan once that is no worse
 * than the custom ones, `plan_cache_mode = auto`). On this kind of box `pgbench -M prepared`
 * runs the TPC-B-like transaction at about twice the rate of `-M extended` (what knex does).
 *
 * Which statements get a name is bounded, so a backend's cached statements stay few (a cached
 * statement with its plan takes tens of kB in its backend: 200 prepared two-table `select *`
 * joins took 18.7 MB):
 * - only statements with parameters (the rest use the simple protocol: BEGIN, COMMIT, DDL), and
 *   at most MAX_PREPARED_PARAMETERS of them (a multi-row batch insert has a text per batch size
 *   and a large tree);
 * - a text is named the second time it is seen (one-off texts never take a slot);
 * - at most `limit` texts per process are named; later new texts run unnamed as before.
 * The name is derived from the process-wide order in which texts earned one, so one name always
 * means one text on every connection (pg refuses to reuse a name for another text).
 *
 * A named statement that reads `*` fails once a migration changes its table's columns (Postgres:
 * "cached plan must not change result type"). Its connection is then retired, so the statements
 * after it run on a fresh connection that prepares them anew. A statement on its own (autocommit)
 * is run again at once, unnamed; inside a transaction the error has aborted the transaction and
 * reaches the caller as any other would (a consumer's message is redelivered).
 *
 * A statement whose best plan depends on a parameter's value beyond what a generic plan can
 * know — typically a join against `unnest($1::uuid[])`, which a generic plan takes for 10 rows
 * whatever the array's length, planned once when the table was small — opts out with
 * `unprepared(query)`: it is planned at every execution, as knex does by default.
 *
 * Not for a transaction-mode pooler without prepared-statement support (pgbouncer < 1.21):
 * turn it off there with a limit of 0.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private seen = new Set<string>();

  constructor(
    readonly limit: number,
    /** How many once-seen texts are remembered before that memory starts over. */
    private readonly seenLimit = 10_000,
  ) {}

  /** Executions of a text that had earned a name after the limit was reached (metrics: the budget is short). */
  overLimit = 0;

  /** The name for `sql`, or undefined when it should run unnamed. */
  nameOf(sql: string): string | undefined {
    const named = this.names.get(sql);
    if (named !== undefined) return named;
    if (!this.seen.has(sql)) {
      if (this.seen.size >= this.seenLimit) this.seen = new Set();
      this.seen.add(sql);
      return undefined;
    }
    if (this.names.size >= this.limit) {
      this.overLimit += 1;
      return undefined;
    }
    this.seen.delete(sql);
    const name = `go_${this.names.size + 1}`;
    this.names.set(sql, name);
    return name;
  }

  get size(): number {
    return this.names.size;
  }
}

/** Statements with more parameters than this (multi-row batches) run unnamed (see StatementNames). */
export const MAX_PREPARED_PARAMETERS = 32;

/** The query option that keeps a statement unnamed (see `unprepared`). */
const UNPREPARED = 'prepare';

/**
 * Marks a knex query or raw statement to run unnamed, planned at every execution with the
 * values at hand (see StatementNames for when that is the right choice).
 */
export function unprepared<Q extends { options(options: Readonly<Record<string, unknown>>): Q }>(query: Q): Q {
  return query.options({ [UNPREPARED]: false });
}

interface CompiledQuery {
  sql?: string;
  bindings?: readonly unknown[];
  options?: Record<string, unknown>;
}

/** knex's pg dialect, with the one method overridden here (`_query` is not in knex's typings). */
type KnexPgClient = Knex.Client & { _query(connection: unknown, obj: CompiledQuery): Promise<unknown> };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const PgClient = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => KnexPgClient;

/** knex's pg client that names the statements `names` lets it (see StatementNames); knex's `client`. */
export function preparingPgClient(names: StatementNames): typeof Knex.Client {
  class PreparingPgClient extends PgClient {
    override async _query(connection: unknown, obj: CompiledQuery): Promise<unknown> {
      let name: string | undefined;
      if (obj.options?.[UNPREPARED] === false) {
        const { [UNPREPARED]: _unprepared, ...options } = obj.options;
        obj.options = options;
      } else if (obj.sql && obj.bindings && obj.bindings.length > 0 && obj.bindings.length <= MAX_PREPARED_PARAMETERS && obj.options?.name === undefined) {
        name = names.nameOf(obj.sql);
        if (name !== undefined) obj.options = { ...obj.options, name };
      }
      try {
        return await super._query(connection, obj);
      } catch (err) {
        if (name === undefined || !isStalePlan(err)) throw err;
        // knex's pool drops a connection marked so when it is next acquired: its other statements may be stale too
        (connection as { __knex__disposed?: unknown }).__knex__disposed = err;
        // inside a transaction the failure has aborted it: the caller's to handle, as any other error
        if ((this as { transacting?: boolean }).transacting) throw err;
        // on its own the statement did nothing: it runs again, unnamed
        const { name: _stale, ...options } = obj.options ?? {};
        obj.options = options;
        return super._query(connection, obj);
      }
    }
  }
  return PreparingPgClient as unknown as typeof Knex.Client;
}

/** Postgres refusing a prepared statement whose table's columns changed since it was prepared. */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}
