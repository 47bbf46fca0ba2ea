import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { adminDb, createServiceDb, ensureDatabase, ensureServiceSchema, migrateService, type Knex } from '@guitaronline/platform';
import { deleteBus, isolatedBus, testEnv, testInfra } from '@guitaronline/testing';
import { migrations } from '../migrations';
import { runCreateAdmin } from '../src/cli/create-admin';
import type { IdentityService } from '../src/main';
import { login, PASSWORD, register, startIdentity, uniqueEmail } from './helpers';

const bus = isolatedBus();
let identity: IdentityService;
let url: string;

beforeAll(async () => {
  identity = await startIdentity(bus);
  url = identity.url;
});

afterAll(async () => {
  await identity?.stop();
  await deleteBus(bus, ['identity']);
});

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

const registeredEvents = (db: Knex, userId: string) =>
  db('outbox').where({ type: 'identity.user.registered', aggregate_id: userId }).select('envelope').then((rows) => rows.map((r) => r.envelope.payload));

describe('admin:create', () => {
  it('when the command names a new email, then an admin is created, its id printed, and identity.user.registered (admin) recorded', async () => {
    const email = uniqueEmail('ops');
    const { io, out, err } = captureIo();
    const code = await runCreateAdmin(['--email', email, '--password', 'admin password 1', '--full-name', 'Ops Person'], testEnv(), io);
    expect({ code, err }).toEqual({ code: 0, err: [expect.stringContaining('created as admin')] });
    const id = out[0];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const tokens = await login(url, email, 'admin password 1');
    const me = await request(url).get('/api/v1/identity/users/me').set('Authorization', `Bearer ${tokens.accessToken}`);
    expect(me.body).toMatchObject({ id, email, role: 'admin', fullName: 'Ops Person' });
    expect(await registeredEvents(identity.db, id)).toEqual([{ userId: id, email, role: 'admin', fullName: 'Ops Person' }]);
  });

  it('when the command runs again for the same email, then the same admin is kept (new password) and no second event is written', async () => {
    const email = uniqueEmail('again');
    const first = captureIo();
    await runCreateAdmin([`--email=${email}`, '--password=first password'], testEnv(), first.io);
    const second = captureIo();
    expect(await runCreateAdmin([`--email=${email}`, '--password=second password'], testEnv(), second.io)).toBe(0);
    expect(second.out).toEqual(first.out);
    await login(url, email, 'second password');
    expect(await registeredEvents(identity.db, first.out[0])).toHaveLength(1);
  });

  it('when the email belongs to a student, then the student is promoted and the event carries role admin', async () => {
    const { user, email } = await register(url, { role: 'student', fullName: 'Soon Admin' });
    const { io, out } = captureIo();
    expect(await runCreateAdmin(['--email', email.toUpperCase(), '--password', PASSWORD], testEnv(), io)).toBe(0);
    expect(out).toEqual([user.id]);
    const events = await registeredEvents(identity.db, user.id);
    expect(events.map((e) => e.role)).toEqual(['student', 'admin']);
  });

  it.each([
    [[], /--email/],
    [['--email', 'not-an-email', '--password', PASSWORD], /--email must be an e-mail address/],
    [['--email', 'a@example.com'], /--password is required/],
    [['--email', 'a@example.com', '--password', 'short'], /at least 8/],
    [['--email', 'a@example.com', '--password', 'x'.repeat(73)], /at most 72 bytes/],
    [['--email', 'a@example.com', '--password', PASSWORD, '--role', 'x'], /unknown option --role/],
    [['--email', 'a@example.com', '--password'], /--password needs a value/],
    [['stray'], /unexpected argument "stray"/],
  ])('when the arguments are %j, then exit code 2 with a clear message and nothing created', async (argv, message) => {
    const { io, out, err } = captureIo();
    expect(await runCreateAdmin(argv as string[], testEnv(), io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).toMatch(/usage: npm run admin:create/);
  });

  it('when the configuration is bad, then exit code 2 naming the variable', async () => {
    const { io, err } = captureIo();
    expect(await runCreateAdmin(['--email', uniqueEmail(), '--password', PASSWORD], testEnv({ BCRYPT_COST: 'lots' }), io)).toBe(2);
    expect(err.join('\n')).toMatch(/BCRYPT_COST/);
  });

  it('when run as a process (npm run admin:create), then it prints only the id and exits 0; bad input exits non-zero without a stack trace', async () => {
    const script = path.resolve(__dirname, '../dist/src/cli/create-admin.js');
    const env = { ...process.env, ...testEnv() } as NodeJS.ProcessEnv;
    const run = (args: string[]) => promisify(execFile)(process.execPath, [script, ...args], { env });
    const [ok, bad] = await Promise.all([
      run(['--email', uniqueEmail('proc'), '--password', PASSWORD]),
      run(['--email', 'nope']).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      ),
    ]);
    expect(ok.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad?.code).toBe(2);
    expect(bad?.stderr).toMatch(/admin:create: .*--email/);
    expect(bad?.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('a fresh identity database (bootstrap admin, first signing key)', () => {
  const database = `guitaronline_test_identity_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const databaseUrl = (() => {
    const u = new URL(testInfra().databaseUrl);
    u.pathname = `/${database}`;
    return u.toString();
  })();

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
  });

  afterAll(async () => {
    const admin = adminDb(testInfra().databaseUrl);
    await admin.raw(`drop database if exists ${database} with (force)`).finally(() => admin.destroy());
  });

  it('when the schema is not migrated yet, then admin:create says to provision first (exit 1)', async () => {
    const { io, err } = captureIo();
    expect(await runCreateAdmin(['--email', uniqueEmail(), '--password', PASSWORD], testEnv({ DATABASE_URL: databaseUrl }), io)).toBe(1);
    expect(err.join('\n')).toMatch(/npm run provision/);
  });

  it('when two replicas start at once with BOOTSTRAP_ADMIN_*, then one admin is created once and both sign with the one key', async () => {
    const admin = adminDb(databaseUrl);
    try {
      await ensureServiceSchema(admin, 'identity');
    } finally {
      await admin.destroy();
    }
    const db = createServiceDb({ databaseUrl, schema: 'identity' });
    try {
      await migrateService(db, 'identity', migrations);
      const email = uniqueEmail('boot');
      const env = { DATABASE_URL: databaseUrl, BOOTSTRAP_ADMIN_EMAIL: email, BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap password' };
      const replicas = await Promise.all([startIdentity(bus, env), startIdentity(bus, env), startIdentity(bus, env)]);
      try {
        expect(await db('users').where({ role: 'admin' }).select('email')).toEqual([{ email }]);
        expect(await db('outbox').where({ type: 'identity.user.registered' }).count({ n: '*' })).toEqual([{ n: '1' }]);
        expect(await db('signing_keys').count({ n: '*' })).toEqual([{ n: '1' }]);
        expect(new Set(replicas.map((r) => r.keys.active.kid)).size).toBe(1);

        // a token from one replica is accepted by another
        const tokens = await login(replicas[0].url, email, 'bootstrap password');
        const me = await request(replicas[1].url).get('/api/v1/identity/users/me').set('Authorization', `Bearer ${tokens.accessToken}`);
        expect(me.body).toMatchObject({ email, role: 'admin' });
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
      }

      // a later start with another bootstrap email does nothing: an admin already exists
      const later = await startIdentity(bus, { ...env, BOOTSTRAP_ADMIN_EMAIL: uniqueEmail('late') });
      await later.stop();
      expect(await db('users').where({ role: 'admin' }).count({ n: '*' })).toEqual([{ n: '1' }]);
    } finally {
      await db.destroy();
    }
  });
});
