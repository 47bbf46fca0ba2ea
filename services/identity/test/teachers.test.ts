import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { captureMessages, deleteBus, eventually, isolatedBus } from '@guitaronline/testing';
import { encodeCursor } from '@guitaronline/platform';
import type { IdentityService } from '../src/main';
import { expectProblem, signUp, startIdentity } from './helpers';

const bus = isolatedBus();
let identity: IdentityService;
let url: string;
let capture: Awaited<ReturnType<typeof captureMessages>>;

beforeAll(async () => {
  capture = await captureMessages(bus.EVENTS_EXCHANGE);
  identity = await startIdentity(bus);
  url = identity.url;
});

afterAll(async () => {
  await identity?.stop();
  await capture?.close();
  await deleteBus(bus, ['identity']);
});

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const profileUpdate = { displayName: 'Maestra Lopez', bio: 'Flamenco and classical.', instruments: ['classical guitar', 'flamenco guitar'], timezone: 'Europe/Madrid' };

describe('teacher profiles', () => {
  it('when a teacher registers, then they are listed at once with a starting profile named after them', async () => {
    const teacher = await signUp(url, 'teacher', { fullName: 'New Teacher' });
    const res = await request(url).get(`/api/v1/teachers/${teacher.user.id}`).set(auth(teacher.accessToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ teacherId: teacher.user.id, displayName: 'New Teacher', bio: '', instruments: [], timezone: 'UTC' });
  });

  it('when a teacher updates their profile, then 200 with the profile, a student reads it, and identity.teacher.profile_updated is published', async () => {
    const teacher = await signUp(url, 'teacher');
    const student = await signUp(url, 'student');
    const requestId = `req-${randomUUID()}`;
    const res = await request(url).put('/api/v1/teachers/me').set(auth(teacher.accessToken)).set('X-Request-Id', requestId).send(profileUpdate);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ teacherId: teacher.user.id, ...profileUpdate });

    const read = await request(url).get(`/api/v1/teachers/${teacher.user.id}`).set(auth(student.accessToken));
    expect(read.body).toEqual(res.body);

    const event = await eventually(() =>
      capture.ofType('identity.teacher.profile_updated').find((e) => e.payload.teacherId === teacher.user.id && e.correlationId === requestId),
    );
    expect(event).toMatchObject({ source: 'identity', aggregateId: teacher.user.id, payload: { teacherId: teacher.user.id, displayName: 'Maestra Lopez', timezone: 'Europe/Madrid' } });
  });

  it('when a teacher updates twice, then the second update wins (upsert) and leaves one row', async () => {
    const teacher = await signUp(url, 'teacher');
    await request(url).put('/api/v1/teachers/me').set(auth(teacher.accessToken)).send(profileUpdate).expect(200);
    const res = await request(url).put('/api/v1/teachers/me').set(auth(teacher.accessToken)).send({ displayName: 'Renamed', timezone: 'America/New_York' });
    expect(res.body).toEqual({ teacherId: teacher.user.id, displayName: 'Renamed', bio: '', instruments: [], timezone: 'America/New_York' });
    expect(await identity.db('teacher_profiles').where({ teacher_id: teacher.user.id }).count({ n: '*' })).toEqual([{ n: '1' }]);
  });

  it('when a student tries to PUT teachers/me, then 403 forbidden and no profile is made', async () => {
    const student = await signUp(url, 'student');
    expectProblem(await request(url).put('/api/v1/teachers/me').set(auth(student.accessToken)).send(profileUpdate), 403, 'forbidden');
    expect(await identity.db('teacher_profiles').where({ teacher_id: student.user.id }).first()).toBeUndefined();
  });

  it('when a student id is asked for as a teacher, or an unknown id, then 404 not_found', async () => {
    const student = await signUp(url, 'student');
    expectProblem(await request(url).get(`/api/v1/teachers/${student.user.id}`).set(auth(student.accessToken)), 404, 'not_found');
    expectProblem(await request(url).get(`/api/v1/teachers/${randomUUID()}`).set(auth(student.accessToken)), 404, 'not_found');
  });

  it('when the teacher list is paged, then it is newest first, every teacher appears once and the last page has nextCursor null', async () => {
    const viewer = await signUp(url, 'student');
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await signUp(url, 'teacher')).user.id);

    // page until the five made last are seen: they are newest, so they come first (other suites may add teachers meanwhile)
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await request(url)
        .get('/api/v1/teachers')
        .query(cursor ? { limit: 2, cursor } : { limit: 2 })
        .set(auth(viewer.accessToken));
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((t: { teacherId: string }) => t.teacherId));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && !mine.every((id) => seen.includes(id)) && pages < 50);
    expect(new Set(seen).size).toBe(seen.length);
    const positions = mine.map((id) => seen.indexOf(id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => b - a)).toEqual(positions);

    // past the oldest row: an empty last page
    const tail = await request(url)
      .get('/api/v1/teachers')
      .query({ cursor: encodeCursor({ at: '1970-01-01T00:00:00.000000Z', id: randomUUID() }) })
      .set(auth(viewer.accessToken));
    expect(tail.body).toEqual({ items: [], nextCursor: null });
  });

  it('when the list is read without a token, then 401', async () => {
    expectProblem(await request(url).get('/api/v1/teachers'), 401, 'unauthorized');
  });
});
