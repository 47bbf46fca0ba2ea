export * from './amqp';
export * from './eventually';
export * from './infra';
export * from './token-issuer';
