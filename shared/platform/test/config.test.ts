import { z } from 'zod';
import { ConfigError, baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '../src';

const schema = z.object({ ...baseEnvShape, PORT: envPort.default(8001), BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12) });

describe('configuration', () => {
  test('when nothing is set, the documented defaults apply', () => {
    const config = loadConfig(schema, {});
    expect(config).toMatchObject({ APP_ENV: 'development', PORT: 8001, AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', BCRYPT_COST: 12 });
  });

  test('when variables are bad, the error names each of them', () => {
    expect(() => loadConfig(schema, { PORT: 'eighty', APP_ENV: 'staging', DATABASE_URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig(schema, { PORT: 'eighty', APP_ENV: 'staging', DATABASE_URL: 'not a url' });
    } catch (err) {
      const names = (err as ConfigError).problems.map((p) => p.variable).sort();
      expect(names).toEqual(['APP_ENV', 'DATABASE_URL', 'PORT']);
      expect((err as Error).message).toContain('PORT');
    }
  });

  test('when a variable is set to the empty string, it counts as unset', () => {
    expect(loadConfig(schema, { PORT: '' }).PORT).toBe(8001);
  });

  test('placeholder secrets are recognised', () => {
    expect(isPlaceholderSecret('change-me-please')).toBe(true);
    expect(isPlaceholderSecret('dev-identity-password')).toBe(true);
    expect(isPlaceholderSecret(undefined)).toBe(true);
    expect(isPlaceholderSecret('k3y-from-vault-9d8f7')).toBe(false);
  });
});
