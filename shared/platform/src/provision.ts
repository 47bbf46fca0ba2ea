import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { createServiceDb, devRolePassword, migrateService, serviceRoleName, type Migration } from './db';

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
  const provision = () =>
    admin.transaction(async (trx) => {
      // serialise concurrent provisioners of this database (an advisory lock is per database)
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
  // Roles are cluster-wide: provisioners of two databases (parallel test files, two
  // environments on one server) can update the same role at once, and Postgres refuses the
  // second ("tuple concurrently updated", or a duplicate role on create). Everything above is
  // idempotent, so the loser runs it again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await provision();
      return;
    } catch (err) {
      if (attempt >= 8 || !isConcurrentRoleUpdate(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.floor(Math.random() * 30)));
    }
  }
}

function isConcurrentRoleUpdate(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code === 'XX000' && /tuple concurrently updated/.test(e.message ?? '')) || (e.code === '23505' && /pg_authid/.test(e.message ?? '')) || e.code === '42710';
}

export function adminDb(databaseUrl: string): Knex {
  return knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
}

/** Drops a database (e.g. a test run's), disconnecting its sessions; nothing happens if it is gone. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  const admin = knexFactory({ client: 'pg', connection: withDatabase(databaseUrl, 'postgres'), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`drop database if exists ${quoteIdent(name)} with (force)`);
  } finally {
    await admin.destroy();
  }
}

/** Services under `<root>/services` whose migrations are built (`dist/migrations/index.js`), in a stable order. */
export function servicesWithBuiltMigrations(root: string): string[] {
  const dir = path.join(root, 'services');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => fs.existsSync(builtMigrationsFile(root, name)))
    .sort();
}

function builtMigrationsFile(root: string, service: string): string {
  return path.join(root, 'services', service, 'dist', 'migrations', 'index.js');
}

/** A service's migrations as `tsc -b` built them: what a deployment runs, so what tests provision with. */
export function builtMigrations(root: string, service: string): Record<string, Migration> {
  const file = builtMigrationsFile(root, service);
  if (!fs.existsSync(file)) throw new Error(`${service} has no built migrations at ${file}: run \`npx tsc -b\` first`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(file) as { migrations: Record<string, Migration> }).migrations;
}

async function withAdvisoryLock<T>(admin: Knex, key: string, fn: () => Promise<T>): Promise<T> {
  const conn = await admin.client.acquireConnection();
  try {
    await conn.query('select pg_advisory_lock(hashtext($1))', [key]);
    try {
      return await fn();
    } finally {
      await conn.query('select pg_advisory_unlock(hashtext($1))', [key]);
    }
  } finally {
    await admin.client.releaseConnection(conn);
  }
}

export interface ServiceToProvision {
  name: string;
  migrations: Record<string, Migration>;
  /** The password its role gets; the dev default when unset. */
  rolePassword?: string;
}

/**
 * Creates the database if missing, the extensions the services need, one role + schema per
 * service, and runs each service's migrations as that service's own role. Idempotent, and
 * safe when several provisioners run at once (CI, parallel test files).
 */
export async function provisionServices(opts: { databaseUrl: string; services: ServiceToProvision[]; log?: (line: string) => void }): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  await ensureDatabase(opts.databaseUrl);
  const admin = adminDb(opts.databaseUrl);
  try {
    // extensions need a superuser; service roles cannot create them (booking's exclusion constraint uses btree_gist)
    await admin.raw('create extension if not exists btree_gist');
    for (const service of opts.services) {
      await ensureServiceSchema(admin, service.name, service.rolePassword);
      const db = createServiceDb({ databaseUrl: opts.databaseUrl, schema: service.name, rolePassword: service.rolePassword, pool: { min: 0, max: 1 } });
      try {
        // one migrator per service at a time, however many provisioners run
        const applied = await withAdvisoryLock(admin, `guitaronline:migrate:${service.name}`, () => migrateService(db, service.name, service.migrations));
        log(`${service.name}: schema ready${applied.length ? `, applied ${applied.join(', ')}` : ''}`);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await admin.destroy();
  }
  return opts.services.map((s) => s.name);
}
