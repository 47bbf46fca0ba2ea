export { z } from './zod';
export * from './primitives';
export * from './envelope';
export * from './events';
export * from './openapi';
export * from './http/common';
export * as identityHttp from './http/identity';
export * as billingHttp from './http/billing';
export * as lessonsHttp from './http/lessons';
