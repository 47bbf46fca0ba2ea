import knexFactory, { type Knex } from 'knex';
import { devRolePassword, serviceRoleName } from './db';

function withDatabase(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`refusing unsafe identifier ${name}`);
  return `"${name}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Creates the database named in DATABASE_URL if it does not exist (idempotent). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '')) || 'postgres';
  const admin = knexFactory({ client: 'pg', connection: withDatabase(databaseUrl, 'postgres'), pool: { min: 0, max: 1 } });
  try {
    const { rows } = await admin.raw('select 1 from pg_database where datname = ?', [name]);
    if (rows.length > 0) return false;
    try {
      await admin.raw(`create database ${quoteIdent(name)}`);
    } catch (err) {
      // two provisioners racing: the other one created it
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
    return true;
  } finally {
    await admin.destroy();
  }
}

/**
 * One role per service, owning the schema of the same name and nothing else: the role has
 * no USAGE on any other service's schema, so reading another service's tables fails with
 * "permission denied" (DESIGN.md rule 1).
 */
export async function ensureServiceSchema(admin: Knex, schema: string, password = devRolePassword(schema)): Promise<void> {
  const role = serviceRoleName(schema);
  const database = (await admin.raw('select current_database() as db')).rows[0].db as string;
  await admin.transaction(async (trx) => {
    // serialise concurrent provisioners (roles are cluster-wide)
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`guitaronline:provision:${role}`]);
    const exists = await trx.raw('select 1 from pg_roles where rolname = ?', [role]);
    if (exists.rows.length === 0) {
      await trx.raw(`create role ${quoteIdent(role)} login password ${quoteLiteral(password)} nosuperuser nocreatedb nocreaterole`);
    } else {
      await trx.raw(`alter role ${quoteIdent(role)} with login password ${quoteLiteral(password)}`);
    }
    await trx.raw(`create schema if not exists ${quoteIdent(schema)} authorization ${quoteIdent(role)}`);
    await trx.raw(`alter schema ${quoteIdent(schema)} owner to ${quoteIdent(role)}`);
    await trx.raw(`alter role ${quoteIdent(role)} in database ${quoteIdent(database)} set search_path = ${quoteIdent(schema)}`);
    await trx.raw(`grant connect on database ${quoteIdent(database)} to ${quoteIdent(role)}`);
    await trx.raw(`revoke all on schema public from ${quoteIdent(role)}`);
  });
}

export function adminDb(databaseUrl: string): Knex {
  return knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
}
