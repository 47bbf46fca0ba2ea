import type { Logger } from '@guitaronline/platform';
import type { Store } from '../data/store';
import type { Clock } from './booking';
import type { SettleNotifier } from './settle-notifier';

export interface BookingSettings {
  holdMinutes: number;
  refundWindowHours: number;
  maxActiveHolds: number;
  confirmTimeoutSeconds: number;
  confirmMaxRequests: number;
}

/** What the use cases count; main wires it to Prometheus. */
export interface BookingMetrics {
  holdsExpired(trigger: 'sweep' | 'admin' | 'lazy', count: number): void;
  watchdog(action: 're_requested' | 'rejected'): void;
  compensated(): void;
}

export interface BookingDeps {
  store: Store;
  clock: Clock;
  settings: BookingSettings;
  logger: Logger;
  notifier: SettleNotifier;
  metrics: BookingMetrics;
}
