import knexFactory, { type Knex } from 'knex';
import { preparingPgClient, StatementNames } from './prepared-statements';

export type { Knex };

export interface ServiceDbOptions {
  databaseUrl: string;
  /** The service's schema; its own role owns it and nothing else. */
  schema: string;
  /** The service's Postgres role. Defaults to `<schema>_svc`. */
  role?: string;
  rolePassword?: string;
  pool?: { min?: number; max?: number };
  /**
   * How many statement texts may run as named (prepared) statements, parsed and planned once
   * per connection (prepared-statements.ts); 0 sends every statement unnamed. Default 200.
   */
  preparedStatements?: number;
}

/** The default of `ServiceDbOptions.preparedStatements` and of DB_PREPARED_STATEMENTS. */
export const DEFAULT_PREPARED_STATEMENTS = 200;

export function serviceRoleName(schema: string): string {
  return `${schema}_svc`;
}

/** Dev/test password of a service role; production must set DB_ROLE_PASSWORD. */
export function devRolePassword(schema: string): string {
  return `dev-${schema}-password`;
}

/** The connection string of `databaseUrl` with the user/password of the service's role. */
export function serviceConnectionString(opts: ServiceDbOptions): string {
  const url = new URL(opts.databaseUrl);
  url.username = opts.role ?? serviceRoleName(opts.schema);
  url.password = opts.rolePassword ?? devRolePassword(opts.schema);
  return url.toString();
}

/**
 * Runs `fn` once the transaction `db` commits (never if it rolls back); at once when `db` is
 * not a transaction (an autocommit statement has committed already).
 */
export function afterCommit(db: Knex | Knex.Transaction, fn: () => void): void {
  const t = db as Knex.Transaction & { executionPromise?: Promise<unknown> };
  if (t.isTransaction && t.executionPromise) t.executionPromise.then(fn, () => undefined);
  else fn();
}

const statementNamesOf = new WeakMap<Knex, StatementNames>();

/** knex bound to the service's own schema and role (DESIGN.md rule 1). */
export function createServiceDb(opts: ServiceDbOptions): Knex {
  const prepared = opts.preparedStatements ?? DEFAULT_PREPARED_STATEMENTS;
  const names = prepared > 0 ? new StatementNames(prepared) : undefined;
  const knex = knexFactory({
    client: names ? preparingPgClient(names) : 'pg',
    connection: { connectionString: serviceConnectionString(opts), application_name: `guitaronline-${opts.schema}` },
    searchPath: [opts.schema],
    pool: { min: opts.pool?.min ?? 0, max: opts.pool?.max ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
  if (names) statementNamesOf.set(knex, names);
  return knex;
}

/** The prepared-statement budget of a knex made by createServiceDb (undefined when it prepares nothing). */
export function preparedStatementNames(knex: Knex): StatementNames | undefined {
  return statementNamesOf.get(knex);
}

export interface Migration {
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/**
 * Runs a service's migrations (an ordered name → migration map, compiled with the service)
 * with the migration table inside the service's own schema.
 */
export async function migrateService(knex: Knex, schema: string, migrations: Record<string, Migration>): Promise<string[]> {
  const names = Object.keys(migrations).sort();
  const source: Knex.MigrationSource<string> = {
    getMigrations: async () => names,
    getMigrationName: (name) => name,
    getMigration: async (name) => ({
      up: migrations[name].up,
      down: migrations[name].down ?? (async () => undefined),
    }),
  };
  const [, applied] = (await knex.migrate.latest({
    migrationSource: source,
    schemaName: schema,
    tableName: 'knex_migrations',
  })) as [number, string[]];
  return applied;
}
