export { z } from './zod';
export * from './primitives';
export * from './envelope';
export * from './events';
export * from './openapi';
export * from './http/common';
export * as identityHttp from './http/identity';
