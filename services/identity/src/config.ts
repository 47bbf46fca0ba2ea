import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';

/** Env values often carry a PEM with literal `\n`; accept both forms. */
export function normalisePem(value: string): string {
  return value.includes('\\n') ? value.replace(/\\n/g, '\n') : value;
}

/** Null when the PEM is an EC P-256 private key, else why not. */
export function p256KeyProblem(pem: string): string | null {
  try {
    const key = createPrivateKey(normalisePem(pem));
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      return 'must be an EC P-256 (prime256v1) private key for ES256';
    }
    return null;
  } catch {
    return 'is not a readable PEM private key';
  }
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export const identityEnvSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8001),
    HOST: z.string().min(1).default('0.0.0.0'),
    BCRYPT_COST: z.coerce.number().int().min(4).max(20).default(12),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().positive().max(365).default(30),
    /** PEM of the EC P-256 signing key (production); dev/test generate and persist one. */
    JWT_PRIVATE_KEY: z.string().optional(),
    JWT_KEY_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, . _ - (at most 200)').optional(),
    BOOTSTRAP_ADMIN_EMAIL: z.email().max(254).optional(),
    BOOTSTRAP_ADMIN_PASSWORD: z
      .string()
      .min(8, 'at least 8 characters')
      .refine((p) => bytes(p) <= 72, 'at most 72 bytes (UTF-8)')
      .optional(),
  })
  .superRefine((env, ctx) => {
    const issue = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    if (Boolean(env.BOOTSTRAP_ADMIN_EMAIL) !== Boolean(env.BOOTSTRAP_ADMIN_PASSWORD)) {
      issue(env.BOOTSTRAP_ADMIN_EMAIL ? 'BOOTSTRAP_ADMIN_PASSWORD' : 'BOOTSTRAP_ADMIN_EMAIL', 'set both BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD, or neither');
    }
    if (env.JWT_PRIVATE_KEY) {
      const problem = p256KeyProblem(env.JWT_PRIVATE_KEY);
      if (problem && !(env.APP_ENV === 'production' && isPlaceholderSecret(env.JWT_PRIVATE_KEY))) issue('JWT_PRIVATE_KEY', problem);
      if (!env.JWT_KEY_ID) issue('JWT_KEY_ID', 'required together with JWT_PRIVATE_KEY');
    }
    if (env.APP_ENV !== 'production') return;
    if (env.BCRYPT_COST < 12) issue('BCRYPT_COST', 'production requires at least 12');
    if (isPlaceholderSecret(env.JWT_PRIVATE_KEY)) issue('JWT_PRIVATE_KEY', 'production requires a real EC P-256 signing key (PEM), not a placeholder');
    if (isPlaceholderSecret(env.JWT_KEY_ID)) issue('JWT_KEY_ID', 'production requires a key id that is not a placeholder or dev key');
    if (isPlaceholderSecret(env.DB_ROLE_PASSWORD)) issue('DB_ROLE_PASSWORD', 'production requires a real password for the identity_svc role');
    if (env.BOOTSTRAP_ADMIN_PASSWORD && isPlaceholderSecret(env.BOOTSTRAP_ADMIN_PASSWORD)) {
      issue('BOOTSTRAP_ADMIN_PASSWORD', 'production refuses a placeholder admin password');
    }
  });

export type IdentityConfig = z.infer<typeof identityEnvSchema>;

/** Parses the environment once; a bad or missing variable is a ConfigError naming it. */
export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): IdentityConfig {
  return loadConfig(identityEnvSchema, env);
}
