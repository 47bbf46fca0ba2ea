import type { Knex } from 'knex';

export interface TeacherProfileCopy {
  teacherId: string;
  displayName: string;
  timezone: string;
  /** When identity changed the profile (the event's occurredAt): the newest change wins. */
  profileUpdatedAt: Date;
}

/** Booking's copy of identity's teacher profiles (DESIGN.md rule 1: what a service needs from elsewhere arrives as events). */
export class TeacherProfileRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  /** Keeps the profile unless the stored one is newer; returns whether it was written. */
  async keepNewest(profile: TeacherProfileCopy, now: Date): Promise<boolean> {
    const rows = await this.db('teacher_profiles')
      .insert({
        teacher_id: profile.teacherId,
        display_name: profile.displayName,
        timezone: profile.timezone,
        profile_updated_at: profile.profileUpdatedAt,
        received_at: now,
      })
      .onConflict('teacher_id')
      .merge(['display_name', 'timezone', 'profile_updated_at', 'received_at'])
      .where('teacher_profiles.profile_updated_at', '<', profile.profileUpdatedAt)
      .returning('teacher_id');
    return rows.length > 0;
  }
}
