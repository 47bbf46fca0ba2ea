import type { Knex } from '@guitaronline/platform';
import type { PasswordHasher } from './passwords';
import type { KeySet } from './signing-keys';

/** What the use cases count; main wires it to Prometheus, tests may leave it out. */
export interface IdentityObserver {
  login(outcome: 'success' | 'failure'): void;
  refreshReuse(): void;
}

export interface IdentityDeps {
  db: Knex;
  clock: () => Date;
  hasher: PasswordHasher;
  keys: KeySet;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  observer?: IdentityObserver;
}

/** Emails are stored and compared in lower case, so `A@x.io` and `a@x.io` are one account. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
