import { keysetPage, type Knex, type Page, type PageRequest } from '@guitaronline/platform';

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

/** Newest first, keyset on (created_at, teacher_id). */
export async function listTeacherProfiles(db: Db, page: PageRequest): Promise<Page<TeacherProfile>> {
  const query = db('teacher_profiles as p').join('users as u', 'u.id', 'p.teacher_id').where('u.role', 'teacher').select('p.*');
  const { items, nextCursor } = await keysetPage<ProfileRow>(query, page, { at: 'p.created_at', id: 'p.teacher_id' });
  return { items: items.map(toProfile), nextCursor };
}
