import client, { Registry } from 'prom-client';
import type { Knex } from 'knex';
import { preparedStatementNames } from './db';

export { client as prom, Registry };

/** A registry per service, with the default process metrics and the service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The prepared-statement budget of a service's database (prepared-statements.ts): how many texts
 * run prepared, the limit, and how often a text that had earned a name ran unnamed because the
 * budget was spent (rising: raise DB_PREPARED_STATEMENTS, or make the varying texts one).
 */
export function registerPreparedStatementMetrics(knex: Knex, registry: Registry): void {
  const names = preparedStatementNames(knex);
  if (!names) return;
  new client.Gauge({
    name: 'db_prepared_statement_texts',
    help: 'Statement texts this process runs as prepared statements',
    registers: [registry],
    collect() {
      this.set(names.size);
    },
  });
  new client.Gauge({
    name: 'db_prepared_statement_texts_limit',
    help: 'The most statement texts this process prepares (DB_PREPARED_STATEMENTS)',
    registers: [registry],
    collect() {
      this.set(names.limit);
    },
  });
  new client.Counter({
    name: 'db_statements_unprepared_over_limit_total',
    help: 'Executions of a repeated statement that ran unnamed because the prepared-statement limit was reached',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(names.overLimit);
    },
  });
}
