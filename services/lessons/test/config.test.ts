import { ConfigError } from '@guitaronline/platform';
import { readConfig } from '../src/config';

describe('lessons configuration', () => {
  test('when nothing is set, then the documented defaults apply', () => {
    const config = readConfig({});
    expect(config.PORT).toBe(8004);
    expect(config.APP_ENV).toBe('development');
  });

  test('when a value is bad, then start-up fails with an error naming the variable', () => {
    expect(() => readConfig({ DB_POOL_MAX: 'soon' })).toThrow(ConfigError);
    expect(() => readConfig({ DB_POOL_MAX: 'soon' })).toThrow(/DB_POOL_MAX/);
  });

  test('when production runs without a real database role password, then it refuses to start', () => {
    expect(() => readConfig({ APP_ENV: 'production' })).toThrow(/DB_ROLE_PASSWORD/);
    expect(() => readConfig({ APP_ENV: 'production', DB_ROLE_PASSWORD: 'change-me' })).toThrow(/DB_ROLE_PASSWORD/);
    expect(readConfig({ APP_ENV: 'production', DB_ROLE_PASSWORD: 's3cr3t-Xq9' }).APP_ENV).toBe('production');
  });
});
