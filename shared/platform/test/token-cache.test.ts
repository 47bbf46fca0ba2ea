import { createTokenCheck, errors, type Principal } from '../src';

const tokenWithExp = (expSeconds: number, salt = 'x') =>
  `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp: expSeconds, salt })).toString('base64url')}.sig`;

describe('token cache', () => {
  const principal: Principal = { userId: 'u-1', role: 'student' };

  test('when the same token comes again within its life and the TTL, then it is not verified again', async () => {
    let now = 1_000_000;
    const verify = jest.fn(async () => principal);
    const check = createTokenCheck(verify, { ttlMs: 30_000, maxEntries: 10, now: () => now });
    const token = tokenWithExp(now / 1000 + 300);
    expect(check.cached(token)).toBeUndefined();
    await check.verify(token);
    expect(check.cached(token)).toEqual(principal);
    now += 29_000;
    expect(check.cached(token)).toEqual(principal);
    now += 2_000; // past the TTL
    expect(check.cached(token)).toBeUndefined();
    expect(verify).toHaveBeenCalledTimes(1);
  });

  test('when the token expires before the TTL, then the cache forgets it at its exp', async () => {
    let now = 1_000_000;
    const check = createTokenCheck(async () => principal, { ttlMs: 30_000, maxEntries: 10, now: () => now });
    const token = tokenWithExp(now / 1000 + 5);
    await check.verify(token);
    now += 4_999;
    expect(check.cached(token)).toEqual(principal);
    now += 2;
    expect(check.cached(token)).toBeUndefined();
  });

  test('when verification fails, then nothing is cached and the next attempt verifies again', async () => {
    const verify = jest.fn(async (): Promise<Principal> => {
      throw errors.unauthorized();
    });
    const check = createTokenCheck(verify, { ttlMs: 30_000, maxEntries: 10 });
    const token = tokenWithExp(Date.now() / 1000 + 300);
    await expect(check.verify(token)).rejects.toMatchObject({ status: 401 });
    expect(check.cached(token)).toBeUndefined();
    await expect(check.verify(token)).rejects.toMatchObject({ status: 401 });
    expect(verify).toHaveBeenCalledTimes(2);
  });

  test('when the cache is full, then the oldest entry makes room; with TTL 0 nothing is kept', async () => {
    const check = createTokenCheck(async () => principal, { ttlMs: 30_000, maxEntries: 2 });
    const exp = Date.now() / 1000 + 300;
    const [a, b, c] = [tokenWithExp(exp, 'a'), tokenWithExp(exp, 'b'), tokenWithExp(exp, 'c')];
    await check.verify(a);
    await check.verify(b);
    await check.verify(c);
    expect(check.size).toBe(2);
    expect(check.cached(a)).toBeUndefined();
    expect(check.cached(c)).toEqual(principal);
    const off = createTokenCheck(async () => principal, { ttlMs: 0, maxEntries: 2 });
    await off.verify(a);
    expect(off.cached(a)).toBeUndefined();
  });
});
