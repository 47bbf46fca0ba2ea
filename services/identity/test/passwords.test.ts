import bcrypt from 'bcryptjs';
import { createPasswordHasher } from '../src/domain/passwords';

describe('password hashing', () => {
  const hasher = createPasswordHasher(4);

  it('when a password is hashed, then it verifies, and a wrong one or an unknown user does not', async () => {
    const hash = await hasher.hash('correct horse battery');
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await hasher.verify('correct horse battery', hash)).toBe(true);
    expect(await hasher.verify('wrong horse battery', hash)).toBe(false);
    expect(await hasher.verify('correct horse battery', null)).toBe(false);
  });

  it('when a password is longer than 72 bytes, then it never verifies, even if its first 72 bytes match', async () => {
    const base = 'a'.repeat(72);
    const hash = await bcrypt.hash(base, 4);
    expect(await hasher.verify(base, hash)).toBe(true);
    expect(await hasher.verify(`${base}tail`, hash)).toBe(false);
  });

  it('when the user is unknown, then verifying costs about as much as for a known user (no timing oracle)', async () => {
    const slow = createPasswordHasher(9); // ~25-50 ms per compare, far above timer noise
    const hash = await slow.hash('the real password');
    const time = async (h: string | null) => {
      const t0 = process.hrtime.bigint();
      await slow.verify('a wrong password', h);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time(hash));
      unknown.push(await time(null));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.6);
  });
});
