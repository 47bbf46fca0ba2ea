import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { problemSchema } from './http/common';

export { OpenAPIRegistry };

/** A registry with the platform's shared components (Problem, bearer auth) already in it. */
export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.register('Problem', problemSchema);
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  return registry;
}

export function generateOpenApiDocument(registry: OpenAPIRegistry, info: { title: string; version: string; description?: string }) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
  });
}

/** A route's `security`: the bearer scheme `createOpenApiRegistry` registers. */
export const bearerSecurity = [{ bearerAuth: [] }];

/** A JSON response of a route: its schema and what it is. */
export function jsonResponse<T>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** Standard problem+json responses for a route, keyed by status. */
export function problemResponses(...statuses: number[]) {
  const out: Record<string, { description: string; content: Record<string, { schema: typeof problemSchema }> }> = {};
  for (const status of statuses) {
    out[String(status)] = {
      description: 'Problem',
      content: { 'application/problem+json': { schema: problemSchema } },
    };
  }
  return out;
}
