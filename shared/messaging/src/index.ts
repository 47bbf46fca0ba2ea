export * from './connection';
export * from './consumer';
export * from './messaging';
export * from './outbox';
export * from './relay';
export * from './topology';
