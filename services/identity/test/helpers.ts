import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { isolatedBus, testEnv } from '@guitaronline/testing';
import { start, type IdentityService } from '../src/main';

export type Bus = ReturnType<typeof isolatedBus>;

export async function startIdentity(bus: Bus, overrides: Record<string, string | undefined> = {}, clock?: () => Date): Promise<IdentityService> {
  return start(testEnv({ ...bus, ...overrides }), { clock });
}

export const uniqueEmail = (tag = 'user') => `${tag}-${randomUUID()}@example.com`;
export const PASSWORD = 'correct horse battery';

export async function register(
  url: string,
  fields: Partial<{ email: string; password: string; fullName: string; role: string }> = {},
  headers: Record<string, string> = {},
) {
  const body = { email: uniqueEmail(), password: PASSWORD, fullName: 'Test Person', role: 'student', ...fields };
  const res = await request(url).post('/api/v1/identity/auth/register').set(headers).send(body);
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { user: res.body as { id: string; email: string; role: string }, email: body.email, password: body.password };
}

export async function login(url: string, email: string, password = PASSWORD) {
  const res = await request(url).post('/api/v1/identity/auth/login').send({ email, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
}

/** Registers and logs in a fresh user of the role. */
export async function signUp(url: string, role: 'student' | 'teacher' = 'student', fields: Partial<{ fullName: string }> = {}) {
  const { user, email } = await register(url, { role, ...fields });
  const tokens = await login(url, email);
  return { user, email, ...tokens };
}

export function expectProblem(res: request.Response, status: number, code: string) {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.requestId).toEqual(res.headers['x-request-id']);
}
