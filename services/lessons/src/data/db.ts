import type { Knex } from 'knex';

/** The service's database handle and a transaction on it (repositories accept either). */
export type Db = Knex;
export type Tx = Knex.Transaction;
export type Queryable = Knex | Knex.Transaction;
