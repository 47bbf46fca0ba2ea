import type { EventHandlers } from '@guitaronline/messaging';
import type { Store } from '../data/store';
import type { BookingDeps } from '../domain/deps';

/**
 * `identity.teacher.profile_updated` → booking's copy of the teacher's display name and time
 * zone (shown on slots). Twice → the same row; late (an older change after a newer one) →
 * ignored, the newest `occurredAt` wins; early (a profile before the teacher has slots) → kept.
 */
export function identityHandlers(deps: BookingDeps, store: Store): EventHandlers {
  return {
    'identity.teacher.profile_updated': async (trx, event) => {
      await store.bind(trx).teachers.keepNewest(
        {
          teacherId: event.payload.teacherId,
          displayName: event.payload.displayName,
          timezone: event.payload.timezone,
          profileUpdatedAt: new Date(event.occurredAt),
        },
        deps.clock(),
      );
    },
  };
}
