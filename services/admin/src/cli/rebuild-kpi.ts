import { createLogger, createServiceDb } from '@guitaronline/platform';
import { readConfig } from '../config';
import { rebuildKpi } from '../data/kpi-rebuild';

/** `npm run kpi:rebuild -w @guitaronline/admin`: rebuilds the KPI read model from the event log. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger('admin-kpi-rebuild', { level: config.LOG_LEVEL });
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'admin', rolePassword: config.DB_ROLE_PASSWORD, pool: { min: 0, max: 2 } });
  try {
    const started = Date.now();
    const { events } = await rebuildKpi(db);
    logger.info({ events, ms: Date.now() - started }, 'KPI read model rebuilt from the event log');
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kpi:rebuild failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
