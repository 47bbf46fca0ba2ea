import { randomUUID } from 'node:crypto';
import { recordEvent } from '@guitaronline/messaging';
import { errors } from '@guitaronline/platform';
import { insertUser, isEmailTaken, type User } from '../data/user-repository';
import { saveTeacherProfile, type TeacherProfile } from '../data/teacher-repository';
import { normaliseEmail, type IdentityDeps } from './identity-deps';

export interface Registration {
  email: string;
  password: string;
  fullName: string;
  role: 'student' | 'teacher';
}

/** A teacher starts with a profile named after them, so they are listed from day one. */
export function initialTeacherProfile(user: User): TeacherProfile {
  return { teacherId: user.id, displayName: user.fullName, bio: '', instruments: [], timezone: 'UTC' };
}

/**
 * Registers a student or teacher. The unique index on email is the only duplicate check
 * (no read-then-insert race); the user, a teacher's profile and their events commit together.
 */
export async function registerUser(deps: Pick<IdentityDeps, 'db' | 'clock' | 'hasher'>, input: Registration): Promise<User> {
  const passwordHash = await deps.hasher.hash(input.password);
  const now = deps.clock();
  try {
    return await deps.db.transaction(async (trx) => {
      const user = await insertUser(trx, {
        id: randomUUID(),
        email: normaliseEmail(input.email),
        fullName: input.fullName,
        role: input.role,
        passwordHash,
        createdAt: now,
      });
      await recordEvent(trx, {
        type: 'identity.user.registered',
        aggregateId: user.id,
        occurredAt: now,
        payload: { userId: user.id, email: user.email, role: user.role, fullName: user.fullName },
      });
      if (user.role === 'teacher') {
        const profile = await saveTeacherProfile(trx, initialTeacherProfile(user), now);
        await recordEvent(trx, {
          type: 'identity.teacher.profile_updated',
          aggregateId: user.id,
          occurredAt: now,
          payload: { ...profile },
        });
      }
      return user;
    });
  } catch (err) {
    if (isEmailTaken(err)) throw errors.conflict('email_taken', 'An account with this email already exists.');
    throw err;
  }
}
