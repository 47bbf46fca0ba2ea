'use strict';
// Provisioning shared by `npm run provision`, `npm start` and the jest global setup:
// creates the database if missing, one role + schema per service, and runs every built
// service's migrations as that service's own role. Idempotent.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** Services that exist in the tree and have built migrations, in a stable order. */
function servicesWithMigrations() {
  const dir = path.join(root, 'services');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => fs.existsSync(path.join(dir, name, 'dist', 'migrations', 'index.js')))
    .sort();
}

function rolePasswordFor(name, env) {
  return env[`${name.toUpperCase()}_DB_ROLE_PASSWORD`] || undefined;
}

async function withAdvisoryLock(admin, key, fn) {
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

async function provision({ databaseUrl, env = process.env, log = () => undefined, services } = {}) {
  const platform = require('@guitaronline/platform');
  await platform.ensureDatabase(databaseUrl);
  const admin = platform.adminDb(databaseUrl);
  // extensions need a superuser; service roles cannot create them (booking's exclusion constraint uses btree_gist)
  await admin.raw('create extension if not exists btree_gist');
  const names = services ?? servicesWithMigrations();
  try {
    for (const name of names) {
      const password = rolePasswordFor(name, env);
      await platform.ensureServiceSchema(admin, name, password);
      const { migrations } = require(path.join(root, 'services', name, 'dist', 'migrations', 'index.js'));
      const db = platform.createServiceDb({ databaseUrl, schema: name, rolePassword: password, pool: { min: 0, max: 1 } });
      try {
        // one migrator per service at a time, however many provisioners run (CI, parallel test runs)
        const applied = await withAdvisoryLock(admin, `guitaronline:migrate:${name}`, () => platform.migrateService(db, name, migrations));
        log(`${name}: schema ready${applied.length ? `, applied ${applied.join(', ')}` : ''}`);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await admin.destroy();
  }
  return names;
}

module.exports = { provision, servicesWithMigrations, root };
