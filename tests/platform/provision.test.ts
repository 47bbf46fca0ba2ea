import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ConfigError, adminDb, createServiceDb, dropDatabase } from '@guitaronline/platform';
import { testInfra } from '@guitaronline/testing';

const root = path.resolve(__dirname, '../..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { provision } = require('../../scripts/provision-lib') as {
  provision(o: { databaseUrl: string; env?: Record<string, string | undefined>; services?: string[] }): Promise<string[]>;
};

const made: string[] = [];

/** A database name nobody uses; dropped after the file even when a refusal failed to happen. */
function freshDatabaseUrl(): string {
  const url = new URL(testInfra().databaseUrl);
  url.pathname = `/gotest_prov_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  made.push(url.toString());
  return url.toString();
}

afterAll(async () => {
  for (const url of made) await dropDatabase(url);
});

async function databaseExists(databaseUrl: string): Promise<boolean> {
  const admin = adminDb(testInfra().databaseUrl);
  try {
    const { rows } = await admin.raw('select 1 from pg_database where datname = ?', [new URL(databaseUrl).pathname.slice(1)]);
    return rows.length > 0;
  } finally {
    await admin.destroy();
  }
}

async function refusal(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('provisioning role passwords', () => {
  test('when APP_ENV=production and role passwords are unset, then it refuses, names each variable and creates nothing', async () => {
    const databaseUrl = freshDatabaseUrl();
    const err = await refusal(provision({ databaseUrl, env: { APP_ENV: 'production' }, services: ['billing', 'lessons'] }));
    expect(err.problems.map((p) => p.variable)).toEqual(['BILLING_DB_ROLE_PASSWORD', 'LESSONS_DB_ROLE_PASSWORD']);
    expect(err.message).toContain('BILLING_DB_ROLE_PASSWORD: is required in production');
    expect(await databaseExists(databaseUrl)).toBe(false);
  });

  test.each(['change-me-billing-db-password', 'changeme', 'dev-billing-password'])(
    'when APP_ENV=production and the role password is the placeholder %s, then it refuses naming the variable',
    async (placeholder) => {
      const databaseUrl = freshDatabaseUrl();
      const err = await refusal(provision({ databaseUrl, env: { APP_ENV: 'production', BILLING_DB_ROLE_PASSWORD: placeholder }, services: ['billing'] }));
      expect(err.problems).toEqual([{ variable: 'BILLING_DB_ROLE_PASSWORD', message: expect.stringContaining('placeholder') }]);
      expect(await databaseExists(databaseUrl)).toBe(false);
    },
  );

  test('when npm run provision is refused in production, then it exits non-zero and says which variable, without a stack trace', () => {
    const databaseUrl = freshDatabaseUrl();
    const env: NodeJS.ProcessEnv = { ...process.env, APP_ENV: 'production', DATABASE_URL: databaseUrl };
    for (const key of Object.keys(env)) if (key.endsWith('_DB_ROLE_PASSWORD')) delete env[key];
    const result = spawnSync(process.execPath, ['scripts/provision.js'], { cwd: root, env, encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/provision failed: Invalid configuration:\n {2}- [A-Z]+_DB_ROLE_PASSWORD: is required in production/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  test('when APP_ENV is test and no role password is set, then it provisions with the dev default and the service logs in as its own role', async () => {
    const databaseUrl = freshDatabaseUrl();
    expect(await provision({ databaseUrl, env: { APP_ENV: 'test' }, services: ['billing'] })).toEqual(['billing']);
    const db = createServiceDb({ databaseUrl, schema: 'billing', pool: { min: 0, max: 1 } });
    try {
      expect((await db.raw('select current_user as role')).rows[0].role).toBe('billing_svc');
    } finally {
      await db.destroy();
    }
  });
});

describe('provisioning in parallel', () => {
  test('when several databases are provisioned at once for the same service role, then every one succeeds (roles are cluster-wide)', async () => {
    const urls = [freshDatabaseUrl(), freshDatabaseUrl(), freshDatabaseUrl(), freshDatabaseUrl()];
    const { ensureDatabase, ensureServiceSchema } = await import('@guitaronline/platform');
    for (const url of urls) await ensureDatabase(url);
    const admins = urls.map((url) => adminDb(url));
    try {
      for (let round = 0; round < 3; round += 1) {
        const results = await Promise.allSettled(admins.map((admin) => ensureServiceSchema(admin, 'paralleltest')));
        expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      }
    } finally {
      await Promise.all(admins.map((a) => a.destroy()));
    }
  });
});
