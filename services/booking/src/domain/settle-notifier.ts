import { EventEmitter } from 'node:events';

/**
 * Wakes a `Prefer: wait` confirm request in this process as soon as the saga reaction for its
 * booking commits. Only a shortcut: the waiter also re-reads the row on a short poll, so a
 * reaction handled by another replica is seen too.
 */
export class SettleNotifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  settled(bookingId: string): void {
    this.emitter.emit(bookingId);
  }

  /** Resolves when `bookingId` settles or after `ms`, whichever comes first. */
  next(bookingId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(bookingId, done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.emitter.once(bookingId, done);
    });
  }
}
