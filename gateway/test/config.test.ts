import { ConfigError } from '@guitaronline/platform';
import { readConfig } from '../src/config';
import { start } from '../src/main';

function configError(env: Record<string, string>): ConfigError {
  try {
    readConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway configuration', () => {
  test('when nothing is set, then the documented defaults apply', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      PORT: 8000,
      AUTH_RATE_LIMIT_BACKEND: 'redis',
      AUTH_RATE_LIMIT_REDIS_NAMESPACE: 'rl',
      AUTH_RATE_LIMIT_WINDOW_SECONDS: 60,
      AUTH_RATE_LIMIT_REGISTER_REQUESTS: 10,
      AUTH_RATE_LIMIT_LOGIN_REQUESTS: 20,
      AUTH_RATE_LIMIT_REFRESH_REQUESTS: 60,
      AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: [],
      AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION: false,
      API_RATE_LIMIT_WINDOW_SECONDS: 60,
      API_RATE_LIMIT_REQUESTS: 300,
      REDIS_URL: 'redis://127.0.0.1:6379',
      IDENTITY_URL: 'http://127.0.0.1:8001',
      BOOKING_URL: 'http://127.0.0.1:8002',
      BILLING_URL: 'http://127.0.0.1:8003',
      LESSONS_URL: 'http://127.0.0.1:8004',
      NOTIFICATIONS_URL: 'http://127.0.0.1:8005',
      ADMIN_URL: 'http://127.0.0.1:8006',
      MAX_BODY_BYTES: 1024 * 1024,
    });
  });

  test('when production uses the memory limiter without the acknowledgement, then start-up is refused naming the variable', () => {
    const err = configError({ APP_ENV: 'production', AUTH_RATE_LIMIT_BACKEND: 'memory' });
    expect(err.problems.map((p) => p.variable)).toContain('AUTH_RATE_LIMIT_BACKEND');
    expect(err.message).toContain('AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION');
  });

  test('when production uses the memory limiter with the acknowledgement, then it is accepted', () => {
    expect(readConfig({ APP_ENV: 'production', AUTH_RATE_LIMIT_BACKEND: 'memory', AUTH_RATE_LIMIT_ALLOW_IN_MEMORY_IN_PRODUCTION: 'true' }).AUTH_RATE_LIMIT_BACKEND).toBe('memory');
  });

  test('when production uses the redis limiter without REDIS_URL, then start-up is refused naming REDIS_URL', () => {
    const err = configError({ APP_ENV: 'production' });
    expect(err.problems.map((p) => p.variable)).toEqual(['REDIS_URL']);
    expect(readConfig({ APP_ENV: 'production', REDIS_URL: 'redis://redis:6379' }).REDIS_URL).toBe('redis://redis:6379');
  });

  test('when a trusted proxy entry is not an address or subnet, then it is refused', () => {
    expect(configError({ AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: '10.0.0.1, example.com' }).problems[0]!.variable).toBe('AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS');
    expect(configError({ AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: '10.0.0.0/33' }).problems[0]!.variable).toBe('AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS');
    expect(readConfig({ AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS: '10.0.0.1, 10.1.0.0/16, ::1' }).AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS).toEqual(['10.0.0.1', '10.1.0.0/16', '::1']);
  });

  test('when a number is not a number, then the variable is named', () => {
    expect(configError({ API_RATE_LIMIT_REQUESTS: 'lots' }).problems[0]!.variable).toBe('API_RATE_LIMIT_REQUESTS');
  });

  test('when start() gets a refused production config, then it rejects with the ConfigError before listening', async () => {
    await expect(start({ APP_ENV: 'production', AUTH_RATE_LIMIT_BACKEND: 'memory', PORT: '0', LOG_LEVEL: 'silent' })).rejects.toBeInstanceOf(ConfigError);
  });
});
