import { recordEvent } from '@guitaronline/messaging';
import { errors, type PageRequest } from '@guitaronline/platform';
import { findTeacherProfile, listTeacherProfiles, saveTeacherProfile, type TeacherProfile } from '../data/teacher-repository';
import type { IdentityDeps } from './identity-deps';

export async function listTeachers(deps: Pick<IdentityDeps, 'db'>, page: PageRequest) {
  return listTeacherProfiles(deps.db, page);
}

export async function getTeacher(deps: Pick<IdentityDeps, 'db'>, teacherId: string): Promise<TeacherProfile> {
  const profile = await findTeacherProfile(deps.db, teacherId);
  if (!profile) throw errors.notFound('teacher');
  return profile;
}

/** A teacher sets their own profile (created if missing); the change and its event commit together. */
export async function updateTeacherProfile(
  deps: Pick<IdentityDeps, 'db' | 'clock'>,
  teacherId: string,
  update: Omit<TeacherProfile, 'teacherId'>,
): Promise<TeacherProfile> {
  const now = deps.clock();
  try {
    return await deps.db.transaction(async (trx) => {
      const profile = await saveTeacherProfile(trx, { teacherId, ...update }, now);
      await recordEvent(trx, { type: 'identity.teacher.profile_updated', aggregateId: teacherId, occurredAt: now, payload: { ...profile } });
      return profile;
    });
  } catch (err) {
    // the token outlived its user
    if ((err as { code?: string }).code === '23503') throw errors.notFound('user');
    throw err;
  }
}
