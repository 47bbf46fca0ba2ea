'use strict';
module.exports = async function globalTeardown() {
  const url = globalThis.__GUITARONLINE_RUN_DATABASE__;
  if (url) {
    const knex = require('knex');
    const server = new URL(url);
    const name = server.pathname.slice(1);
    server.pathname = '/postgres';
    const admin = knex({ client: 'pg', connection: server.toString(), pool: { min: 0, max: 1 } });
    await admin.raw(`drop database if exists "${name}" with (force)`).catch(() => undefined);
    await admin.destroy();
  }
  for (const c of globalThis.__GUITARONLINE_CONTAINERS__ ?? []) await c.stop();
};
