import { Router, type Request } from 'express';
import { identityHttp, pageQuery } from '@guitaronline/contracts';
import { errors, parseBody, parseParams, parseQuery, principalOf, type Auth } from '@guitaronline/platform';
import type { IdentityDeps } from '../domain/identity-deps';
import { registerUser } from '../domain/register-user';
import { logIn, logOut, refreshSession } from '../domain/sessions';
import { getTeacher, listTeachers, updateTeacherProfile } from '../domain/teacher-profiles';
import { findUserById, type User } from '../data/user-repository';

const toUserBody = (user: User) => ({ id: user.id, email: user.email, fullName: user.fullName, role: user.role, createdAt: user.createdAt.toISOString() });

/** API.md: asking for an admin account is understood but refused, so 422 rather than 400. */
const asksForAdmin = (req: Request) => typeof req.body === 'object' && req.body !== null && (req.body as { role?: unknown }).role === 'admin';

export function identityRoutes(deps: IdentityDeps, auth: Auth): Router {
  const router = Router();

  router.post('/api/v1/identity/auth/register', async (req, res) => {
    const body = parseBody(req, identityHttp.registerBody, asksForAdmin(req) ? 422 : 400);
    const user = await registerUser(deps, body);
    res.status(201).json(toUserBody(user));
  });

  router.post('/api/v1/identity/auth/login', async (req, res) => {
    const body = parseBody(req, identityHttp.loginBody);
    res.json(await logIn(deps, body));
  });

  router.post('/api/v1/identity/auth/refresh', async (req, res) => {
    const { refreshToken } = parseBody(req, identityHttp.refreshBody);
    res.json(await refreshSession(deps, refreshToken));
  });

  router.post('/api/v1/identity/auth/logout', auth.requireAuth, async (req, res) => {
    const { refreshToken } = parseBody(req, identityHttp.logoutBody);
    await logOut(deps, principalOf(req).userId, refreshToken);
    res.status(204).end();
  });

  router.get('/api/v1/identity/users/me', auth.requireAuth, async (req, res) => {
    const user = await findUserById(deps.db, principalOf(req).userId);
    if (!user) throw errors.notFound('user');
    res.json(toUserBody(user));
  });

  router.get('/api/v1/teachers', auth.requireAuth, async (req, res) => {
    const page = parseQuery(req, pageQuery);
    res.json(await listTeachers(deps, page));
  });

  router.put('/api/v1/teachers/me', auth.requireAuth, auth.requireRole('teacher'), async (req, res) => {
    const body = parseBody(req, identityHttp.teacherProfileBody);
    res.json(await updateTeacherProfile(deps, principalOf(req).userId, body));
  });

  router.get('/api/v1/teachers/:teacherId', auth.requireAuth, async (req, res) => {
    const { teacherId } = parseParams(req, identityHttp.teacherIdParams);
    res.json(await getTeacher(deps, teacherId));
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    // verifiers cache keys this long; a rotation keeps the old key published at least as long
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(deps.keys.jwks());
  });

  return router;
}
