export * from './amqp';
export * from './eventually';
export * from './infra';
export * from './smtp';
export * from './token-issuer';
