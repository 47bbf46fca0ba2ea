import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and every recorded event of a unit of work should know. */
export interface RequestContext {
  requestId?: string;
  correlationId?: string;
  /** The event being handled, when the work was caused by an event. */
  causationId?: string | null;
  userId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function getContext(): RequestContext {
  return storage.getStore() ?? {};
}

/** Adds fields to the current context (e.g. userId once a token is verified). */
export function extendContext(fields: Partial<RequestContext>): void {
  const store = storage.getStore();
  if (store) Object.assign(store, fields);
}
