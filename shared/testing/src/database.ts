import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { builtMigrations, dropDatabase, provisionServices } from '@guitaronline/platform';
import { testInfra } from './infra';

// shared/testing/{src,dist} → the repository root, where services/<name>/dist/migrations live
const root = path.resolve(__dirname, '../../..');

export interface PrivateDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A private database for one test file, provisioned like the real one (btree_gist, each
 * service's role and schema, its built migrations: run `npx tsc -b` first). Two instances of a
 * service on one schema are replicas sharing an outbox, so either relay could publish the
 * other suite's events to the wrong exchange; and a file whose clock runs ahead sweeps every
 * row it can see. So suites that start a service must not share its schema. Drop it in afterAll.
 */
export async function privateDatabase(services: string[]): Promise<PrivateDatabase> {
  const url = new URL(testInfra().databaseUrl);
  url.pathname = `/gotest_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const database = { url: url.toString(), drop: () => dropDatabase(url.toString()) };
  try {
    await provisionServices({ databaseUrl: database.url, services: services.map((name) => ({ name, migrations: builtMigrations(root, name) })) });
  } catch (err) {
    await database.drop().catch(() => undefined);
    throw err;
  }
  return database;
}
