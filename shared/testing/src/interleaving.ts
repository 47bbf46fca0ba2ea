/** What `whileFirstIsOpen` needs of a transaction (a knex transaction has it). */
export interface OpenTransaction {
  commit(): Promise<unknown>;
  rollback(): Promise<unknown>;
  isCompleted(): boolean;
}

/**
 * Two writers racing, in one fixed interleaving: `first` runs in a transaction that stays open
 * (`open()`, e.g. `() => db.transaction()`), then `second` starts; after `waitMs` it is checked
 * whether `second` is still running (waiting on what `first` wrote: a row lock, a unique key
 * being inserted), then `first` commits and `second` ends. Returns both results and whether
 * `second` was still waiting when `first` committed. On failure `first` is rolled back and
 * `second` left to settle, so nothing keeps a connection.
 */
export async function whileFirstIsOpen<T extends OpenTransaction, A, B>(
  open: () => Promise<T>,
  first: (trx: T) => Promise<A>,
  second: () => Promise<B>,
  waitMs = 300,
): Promise<{ first: A; second: B; secondWaited: boolean }> {
  const trx = await open();
  let pending: Promise<B> | undefined;
  try {
    const firstResult = await first(trx);
    let ended = false;
    pending = second().finally(() => {
      ended = true;
    });
    pending.catch(() => undefined); // awaited below; a rejection meanwhile is not unhandled
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    const secondWaited = !ended;
    await trx.commit();
    return { first: firstResult, second: await pending, secondWaited };
  } finally {
    if (!trx.isCompleted()) await trx.rollback();
    await pending?.catch(() => undefined);
  }
}
