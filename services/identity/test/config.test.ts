import { generateKeyPairSync } from 'node:crypto';
import { ConfigError } from '@guitaronline/platform';
import { readConfig } from '../src/config';

const p256Pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    readConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => p.variable);
  }
  return [];
}

const production = (extra: Record<string, string | undefined> = {}) => ({
  APP_ENV: 'production',
  JWT_PRIVATE_KEY: p256Pem(),
  JWT_KEY_ID: 'prod-2026-01',
  DB_ROLE_PASSWORD: 's3cure-generated-password',
  ...extra,
});

describe('identity config', () => {
  it('when nothing is set, then the development defaults apply', () => {
    const config = readConfig({});
    expect(config).toMatchObject({ PORT: 8001, HOST: '0.0.0.0', BCRYPT_COST: 12, ACCESS_TOKEN_TTL_SECONDS: 900, REFRESH_TOKEN_TTL_DAYS: 30, APP_ENV: 'development' });
  });

  it('when a number variable is not a number, then the ConfigError names it', () => {
    expect(problemsOf({ BCRYPT_COST: 'twelve' })).toEqual(['BCRYPT_COST']);
    expect(problemsOf({ ACCESS_TOKEN_TTL_SECONDS: '-5' })).toEqual(['ACCESS_TOKEN_TTL_SECONDS']);
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT']);
  });

  it('when only one of the bootstrap admin variables is set, then the missing one is named', () => {
    expect(problemsOf({ BOOTSTRAP_ADMIN_EMAIL: 'root@example.com' })).toEqual(['BOOTSTRAP_ADMIN_PASSWORD']);
    expect(problemsOf({ BOOTSTRAP_ADMIN_EMAIL: 'not-an-email', BOOTSTRAP_ADMIN_PASSWORD: 'long-enough-pw' })).toEqual(['BOOTSTRAP_ADMIN_EMAIL']);
    expect(problemsOf({ BOOTSTRAP_ADMIN_EMAIL: 'root@example.com', BOOTSTRAP_ADMIN_PASSWORD: 'x'.repeat(73) })).toEqual(['BOOTSTRAP_ADMIN_PASSWORD']);
  });

  it('when JWT_PRIVATE_KEY is not an EC P-256 key, then it is refused in any environment', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(problemsOf({ JWT_PRIVATE_KEY: p384, JWT_KEY_ID: 'k1' })).toEqual(['JWT_PRIVATE_KEY']);
    expect(problemsOf({ JWT_PRIVATE_KEY: 'garbage', JWT_KEY_ID: 'k1' })).toEqual(['JWT_PRIVATE_KEY']);
    expect(problemsOf({ JWT_PRIVATE_KEY: p256Pem() })).toEqual(['JWT_KEY_ID']);
  });

  it('when production is fully configured, then it starts; a PEM with literal \\n is accepted', () => {
    expect(readConfig(production()).APP_ENV).toBe('production');
    expect(readConfig(production({ JWT_PRIVATE_KEY: p256Pem().replace(/\n/g, '\\n') })).JWT_KEY_ID).toBe('prod-2026-01');
  });

  it('when production lacks the signing key, then JWT_PRIVATE_KEY and JWT_KEY_ID are named', () => {
    expect(problemsOf(production({ JWT_PRIVATE_KEY: undefined, JWT_KEY_ID: undefined })).sort()).toEqual(['JWT_KEY_ID', 'JWT_PRIVATE_KEY']);
  });

  it('when production has placeholder secrets, then each is named', () => {
    expect(problemsOf(production({ JWT_PRIVATE_KEY: 'change-me', JWT_KEY_ID: 'change-me' })).sort()).toEqual(['JWT_KEY_ID', 'JWT_PRIVATE_KEY']);
    expect(problemsOf(production({ JWT_KEY_ID: 'dev-1234' }))).toEqual(['JWT_KEY_ID']);
    expect(problemsOf(production({ DB_ROLE_PASSWORD: undefined }))).toEqual(['DB_ROLE_PASSWORD']);
    expect(problemsOf(production({ DB_ROLE_PASSWORD: 'dev-identity-password' }))).toEqual(['DB_ROLE_PASSWORD']);
    expect(problemsOf(production({ BOOTSTRAP_ADMIN_EMAIL: 'root@example.com', BOOTSTRAP_ADMIN_PASSWORD: 'change-me-please' }))).toEqual(['BOOTSTRAP_ADMIN_PASSWORD']);
  });

  it('when production asks for a bcrypt cost below 12, then BCRYPT_COST is named', () => {
    expect(problemsOf(production({ BCRYPT_COST: '10' }))).toEqual(['BCRYPT_COST']);
    expect(readConfig(production({ BCRYPT_COST: '13' })).BCRYPT_COST).toBe(13);
    // outside production a low cost is the tests' speed-up
    expect(readConfig({ APP_ENV: 'test', BCRYPT_COST: '4' }).BCRYPT_COST).toBe(4);
  });
});
