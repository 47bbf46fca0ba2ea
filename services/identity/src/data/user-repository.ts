import type { Knex } from '@guitaronline/platform';
import type { Role } from '@guitaronline/platform';

export interface User {
  id: string;
  email: string;
  fullName: string;
  role: Role;
  createdAt: Date;
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

type Db = Knex | Knex.Transaction;

interface UserRow {
  id: string;
  email: string;
  full_name: string;
  role: Role;
  created_at: Date;
  updated_at: Date;
  password_hash: string;
}

const toUser = (row: UserRow): User => ({ id: row.id, email: row.email, fullName: row.full_name, role: row.role, createdAt: row.created_at });

/** The Postgres error of a duplicate email (the unique index is the one check, no read-then-insert). */
export function isEmailTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === 'users_email_key';
}

export async function insertUser(
  db: Db,
  user: { id: string; email: string; fullName: string; role: Role; passwordHash: string; createdAt: Date },
): Promise<User> {
  const [row] = await db<UserRow>('users')
    .insert({
      id: user.id,
      email: user.email,
      full_name: user.fullName,
      role: user.role,
      password_hash: user.passwordHash,
      created_at: user.createdAt,
      updated_at: user.createdAt,
    })
    .returning('*');
  return toUser(row);
}

export async function findUserById(db: Db, id: string): Promise<User | undefined> {
  const row = await db<UserRow>('users').where({ id }).first();
  return row ? toUser(row) : undefined;
}

export async function findUserByEmail(db: Db, email: string, options: { forUpdate?: boolean } = {}): Promise<UserWithPassword | undefined> {
  const query = db<UserRow>('users').where({ email }).first();
  if (options.forUpdate) query.forUpdate();
  const row = await query;
  return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
}

export async function anyAdminExists(db: Db): Promise<boolean> {
  const row = await db('users').where({ role: 'admin' }).first('id');
  return Boolean(row);
}

export async function makeAdmin(db: Db, id: string, passwordHash: string, now: Date): Promise<User> {
  const [row] = await db<UserRow>('users').where({ id }).update({ role: 'admin', password_hash: passwordHash, updated_at: now }).returning('*');
  return toUser(row);
}
