'use strict';
module.exports = async function globalTeardown() {
  for (const c of globalThis.__GUITARONLINE_CONTAINERS__ ?? []) await c.stop();
};
