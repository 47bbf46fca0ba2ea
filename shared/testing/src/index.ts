export * from './amqp';
export * from './api-call';
export * from './clock';
export * from './database';
export * from './eventually';
export * from './infra';
export * from './smtp';
export * from './token-issuer';
