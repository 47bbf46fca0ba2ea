import { z } from 'zod';
import { ConfigError, createServiceDb } from '@guitaronline/platform';
import { readConfig } from '../config';
import { createOrPromoteAdmin } from '../domain/admins';
import { createPasswordHasher } from '../domain/passwords';

/**
 * `npm run admin:create -- --email E --password P [--full-name N]`: makes E an admin
 * (created, or promoted if E already has an account; the password is set to P). Prints the
 * user id on stdout. Bad input or an unreachable database: a clear message, exit code ≠ 0.
 */
const argsSchema = z.strictObject({
  email: z.email('--email must be an e-mail address').max(254),
  password: z
    .string('--password is required')
    .min(8, '--password needs at least 8 characters')
    .refine((p) => Buffer.byteLength(p, 'utf8') <= 72, '--password may have at most 72 bytes'),
  'full-name': z.string().trim().min(1).max(200).optional(),
});

const USAGE = 'usage: npm run admin:create -- --email <email> --password <password> [--full-name <name>]';

export function parseArgs(argv: string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) return `unexpected argument "${arg}"`;
    const [, name, inline] = match;
    const value = inline ?? argv[++i];
    if (value === undefined) return `--${name} needs a value`;
    out[name] = value;
  }
  return out;
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** The command, minus the process: returns the exit code (0 ok, 2 bad input, 1 failure). */
export async function runCreateAdmin(argv: string[], env: Record<string, string | undefined> = process.env, io: CliIo = processIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    io.err(`admin:create: ${parsed}\n${USAGE}`);
    return 2;
  }
  const args = argsSchema.safeParse(parsed);
  if (!args.success) {
    const problems = args.error.issues.map((i) => (i.code === 'unrecognized_keys' ? `unknown option ${i.keys.map((k) => `--${k}`).join(', ')}` : i.message));
    io.err(`admin:create: ${problems.join('; ')}\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = readConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`admin:create: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const db = createServiceDb({ databaseUrl: config.DATABASE_URL, schema: 'identity', rolePassword: config.DB_ROLE_PASSWORD, pool: { min: 0, max: 1 } });
  try {
    const { user, outcome } = await createOrPromoteAdmin(
      { db, clock: () => new Date(), hasher: createPasswordHasher(config.BCRYPT_COST) },
      { email: args.data.email, password: args.data.password, fullName: args.data['full-name'] },
    );
    io.err(`admin:create: ${user.email} ${outcome === 'created' ? 'created as admin' : outcome === 'promoted' ? 'promoted to admin' : 'is an admin (password updated)'}`);
    io.out(user.id);
    return 0;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const hint =
      e.code === '42P01'
        ? 'the identity schema is not migrated; run `npm run provision` first'
        : e.code === '23505'
          ? 'the e-mail was registered at the same moment; run the command again'
          : `could not create the admin: ${e.message ?? String(err)}`;
    io.err(`admin:create: ${hint}`);
    return 1;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  void runCreateAdmin(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`admin:create: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
