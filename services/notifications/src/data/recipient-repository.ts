import type { Knex } from 'knex';

export interface Recipient {
  userId: string;
  email: string;
  role: 'student' | 'teacher' | 'admin';
  fullName: string;
}

type Db = Knex | Knex.Transaction;

/** The read model of identity.user.registered: who a user id is and where their mail goes. */
export async function upsertRecipient(db: Db, recipient: Recipient & { registeredAt: Date }, now: Date): Promise<void> {
  await db('recipients')
    .insert({
      user_id: recipient.userId,
      email: recipient.email,
      role: recipient.role,
      full_name: recipient.fullName,
      registered_at: recipient.registeredAt,
      updated_at: now,
    })
    .onConflict('user_id')
    .merge(['email', 'role', 'full_name', 'updated_at']);
}

export async function findRecipients(db: Db, userIds: string[]): Promise<Map<string, Recipient>> {
  if (userIds.length === 0) return new Map();
  const rows: { user_id: string; email: string; role: Recipient['role']; full_name: string }[] = await db('recipients')
    .select('user_id', 'email', 'role', 'full_name')
    .whereIn('user_id', userIds);
  return new Map(rows.map((r) => [r.user_id, { userId: r.user_id, email: r.email, role: r.role, fullName: r.full_name }]));
}
