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
    // CPU time of this process, not wall-clock time: other processes on a busy machine (a parallel
    // suite, CI) stretch the latter at random and make a comparison of 25-ms calls meaningless
    const time = async (h: string | null) => {
      const before = process.cpuUsage();
      await slow.verify('a wrong password', h);
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(hash));
      unknown.push(await time(null));
    }
    // the least of five: interference only ever adds
    expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...known) * 0.6);
  });
});
