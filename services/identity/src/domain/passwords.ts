import bcrypt from 'bcryptjs';

/** bcrypt reads only the first 72 bytes, so longer passwords are refused rather than silently truncated. */
export const MAX_PASSWORD_BYTES = 72;

export function passwordFitsBcrypt(password: string): boolean {
  return Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant work whether or not the user exists: pass `null` for an unknown user. */
  verify(password: string, hash: string | null): Promise<boolean>;
}

export function createPasswordHasher(cost: number): PasswordHasher {
  // an unknown email costs one bcrypt compare too, so timing does not reveal which emails exist
  const dummyHash = bcrypt.hashSync('not-a-real-password-guitaronline', cost);
  return {
    hash: (password) => bcrypt.hash(password, cost),
    async verify(password, hash) {
      const fits = passwordFitsBcrypt(password);
      const matches = await bcrypt.compare(fits ? password : '', hash ?? dummyHash);
      return fits && hash !== null && matches;
    },
  };
}
