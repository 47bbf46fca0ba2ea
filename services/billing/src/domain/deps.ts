import type { Logger } from '@guitaronline/platform';
import type { Db } from '../data/db';
import type { Clock } from './clock';

/** What the use cases need from the outside world. */
export interface BillingDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}
