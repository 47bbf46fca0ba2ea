import { createOpenApiRegistry, generateOpenApiDocument, identityHttp, pageQuery, problemResponses, z, jsonResponse as json, bearerSecurity as bearer } from '@guitaronline/contracts';

const jsonBody = <T extends z.ZodType>(schema: T) => ({ body: { content: { 'application/json': { schema } } } });

/** identity's OpenAPI document, generated from the same zod schemas the routes validate with. */
export function identityOpenApi() {
  const registry = createOpenApiRegistry();
  registry.registerPath({
    method: 'post',
    path: '/api/v1/identity/auth/register',
    summary: 'Register a student or teacher',
    request: jsonBody(identityHttp.registerBody),
    responses: { 201: json(identityHttp.userSchema, 'The new user'), ...problemResponses(400, 409, 413, 422) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/identity/auth/login',
    summary: 'Log in with email and password',
    request: jsonBody(identityHttp.loginBody),
    responses: { 200: json(identityHttp.tokenPairSchema, 'Access and refresh token'), ...problemResponses(400, 401, 413) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/identity/auth/refresh',
    summary: 'Rotate a refresh token for a new pair (a spent one revokes its family: 401 refresh_token_reused)',
    request: jsonBody(identityHttp.refreshBody),
    responses: { 200: json(identityHttp.tokenPairSchema, 'A new token pair'), ...problemResponses(400, 401, 413) },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/identity/auth/logout',
    summary: "End the refresh token's login (its whole family)",
    security: bearer,
    request: jsonBody(identityHttp.logoutBody),
    responses: { 204: { description: 'Logged out (also for an unknown token)' }, ...problemResponses(400, 401, 413) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/identity/users/me',
    summary: 'The caller',
    security: bearer,
    responses: { 200: json(identityHttp.userSchema, 'The caller'), ...problemResponses(401, 404) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/teachers',
    summary: 'Teacher profiles, newest first',
    security: bearer,
    request: { query: pageQuery },
    responses: { 200: json(identityHttp.teacherPageSchema, 'A page of teacher profiles'), ...problemResponses(400, 401) },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/teachers/{teacherId}',
    summary: "A teacher's profile",
    security: bearer,
    request: { params: identityHttp.teacherIdParams },
    responses: { 200: json(identityHttp.teacherProfileSchema, 'The profile'), ...problemResponses(400, 401, 404) },
  });
  registry.registerPath({
    method: 'put',
    path: '/api/v1/teachers/me',
    summary: "Set the calling teacher's profile",
    security: bearer,
    request: jsonBody(identityHttp.teacherProfileBody),
    responses: { 200: json(identityHttp.teacherProfileSchema, 'The saved profile'), ...problemResponses(400, 401, 403, 413) },
  });
  registry.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'Public keys that verify access tokens (ES256)',
    responses: { 200: json(identityHttp.jwksSchema, 'JSON Web Key Set') },
  });
  return generateOpenApiDocument(registry, {
    title: 'GuitarOnline identity',
    version: '1.0.0',
    description: 'Accounts, login sessions, teacher profiles and the signing keys of access tokens.',
  });
}
