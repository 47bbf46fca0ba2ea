import type { Migration } from '@guitaronline/platform';
import { createMessagingTables } from '@guitaronline/messaging';

/** Identity's schema, in order. The database enforces the invariants (DESIGN.md rule 11). */
export const migrations: Record<string, Migration> = {
  '0001_init': {
    async up(knex) {
      await createMessagingTables(knex);
      await knex.raw(`
        create table users (
          id uuid primary key,
          -- stored normalised, so the unique index below is the one source of "email taken"
          email text not null check (email = lower(email) and length(email) between 3 and 254),
          password_hash text not null,
          full_name text not null check (length(full_name) between 1 and 200),
          role text not null check (role in ('student', 'teacher', 'admin')),
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now()
        );
        create unique index users_email_key on users (email);
        create index users_role_idx on users (role);

        create table teacher_profiles (
          teacher_id uuid primary key references users (id) on delete cascade,
          display_name text not null check (length(display_name) between 1 and 200),
          bio text not null default '' check (length(bio) <= 2000),
          instruments text[] not null default '{}' check (cardinality(instruments) <= 20),
          timezone text not null check (length(timezone) between 1 and 64),
          created_at timestamptz not null default now(),
          updated_at timestamptz not null default now()
        );
        create index teacher_profiles_page_idx on teacher_profiles (created_at desc, teacher_id desc);

        -- one family per login; a refresh rotates within it, a reuse or logout revokes all of it
        create table refresh_token_families (
          id uuid primary key,
          user_id uuid not null references users (id) on delete cascade,
          created_at timestamptz not null default now(),
          revoked_at timestamptz,
          revoked_reason text check (revoked_reason in ('reuse', 'logout')),
          check ((revoked_at is null) = (revoked_reason is null))
        );
        create index refresh_token_families_user_idx on refresh_token_families (user_id);

        -- only the SHA-256 of a refresh token is stored
        create table refresh_tokens (
          id uuid primary key,
          family_id uuid not null references refresh_token_families (id) on delete cascade,
          user_id uuid not null references users (id) on delete cascade,
          token_hash bytea not null check (length(token_hash) = 32),
          issued_at timestamptz not null,
          expires_at timestamptz not null check (expires_at > issued_at),
          spent_at timestamptz,
          replaced_by uuid references refresh_tokens (id) on delete set null
        );
        create unique index refresh_tokens_hash_key on refresh_tokens (token_hash);
        create index refresh_tokens_family_idx on refresh_tokens (family_id);
        create index refresh_tokens_expires_idx on refresh_tokens (expires_at);

        -- dev/test signing keys (production reads its key from the environment);
        -- at most one active key, whatever the number of replicas starting at once
        create table signing_keys (
          kid text primary key,
          private_pem text not null,
          public_jwk jsonb not null,
          created_at timestamptz not null default now(),
          active boolean not null default true
        );
        create unique index signing_keys_one_active on signing_keys (active) where active;
      `);
    },
  },
};
