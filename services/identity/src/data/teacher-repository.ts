import type { Knex } from '@guitaronline/platform';

export interface TeacherProfile {
  teacherId: string;
  displayName: string;
  bio: string;
  instruments: string[];
  timezone: string;
}

type Db = Knex | Knex.Transaction;

interface ProfileRow {
  teacher_id: string;
  display_name: string;
  bio: string;
  instruments: string[];
  timezone: string;
  created_at: Date;
  updated_at: Date;
  created_at_key: string;
}

const toProfile = (row: ProfileRow): TeacherProfile => ({
  teacherId: row.teacher_id,
  displayName: row.display_name,
  bio: row.bio,
  instruments: row.instruments,
  timezone: row.timezone,
});

export async function saveTeacherProfile(db: Db, profile: TeacherProfile, now: Date): Promise<TeacherProfile> {
  const [row] = await db<ProfileRow>('teacher_profiles')
    .insert({
      teacher_id: profile.teacherId,
      display_name: profile.displayName,
      bio: profile.bio,
      instruments: profile.instruments,
      timezone: profile.timezone,
      created_at: now,
      updated_at: now,
    })
    .onConflict('teacher_id')
    .merge(['display_name', 'bio', 'instruments', 'timezone', 'updated_at'])
    .returning('*');
  return toProfile(row);
}

/** A teacher's profile; only users who are teachers now are listed or found. */
export async function findTeacherProfile(db: Db, teacherId: string): Promise<TeacherProfile | undefined> {
  const row = await db<ProfileRow>('teacher_profiles as p')
    .join('users as u', 'u.id', 'p.teacher_id')
    .where({ 'p.teacher_id': teacherId, 'u.role': 'teacher' })
    .first('p.*');
  return row ? toProfile(row) : undefined;
}

export interface PageKey {
  createdAt: string;
  id: string;
}

/** Newest first, keyset on (created_at, teacher_id); one extra row tells whether a next page exists. */
export async function listTeacherProfiles(db: Db, limit: number, after?: PageKey): Promise<{ items: TeacherProfile[]; next: PageKey | null }> {
  const query = db<ProfileRow>('teacher_profiles as p')
    .join('users as u', 'u.id', 'p.teacher_id')
    .where('u.role', 'teacher')
    // the text form keeps microseconds, which a JS Date would drop and so skip or repeat rows
    .select('p.*', db.raw(`to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_key`))
    .orderBy([
      { column: 'p.created_at', order: 'desc' },
      { column: 'p.teacher_id', order: 'desc' },
    ])
    .limit(limit + 1);
  if (after) query.whereRaw('(p.created_at, p.teacher_id) < (?::timestamptz, ?::uuid)', [after.createdAt, after.id]);
  const rows = (await query) as ProfileRow[];
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toProfile),
    next: rows.length > limit && last ? { createdAt: last.created_at_key, id: last.teacher_id } : null,
  };
}
