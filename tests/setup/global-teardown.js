'use strict';
module.exports = async function globalTeardown() {
  const url = globalThis.__GUITARONLINE_RUN_DATABASE__;
  if (url) await require('@guitaronline/platform').dropDatabase(url).catch(() => undefined);
  for (const c of globalThis.__GUITARONLINE_CONTAINERS__ ?? []) await c.stop();
};
