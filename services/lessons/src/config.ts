import { baseEnvShape, envPort, isPlaceholderSecret, loadConfig } from '@guitaronline/platform';
import { z } from 'zod';

export const lessonsEnvSchema = z
  .object({
    ...baseEnvShape,
    PORT: envPort.default(8004),
    HOST: z.string().min(1).default('0.0.0.0'),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  })
  .superRefine((env, ctx) => {
    if (env.APP_ENV === 'production' && isPlaceholderSecret(env.DB_ROLE_PASSWORD)) {
      ctx.addIssue({ code: 'custom', path: ['DB_ROLE_PASSWORD'], message: 'production needs a real password for the lessons_svc role' });
    }
  });

export type LessonsConfig = z.infer<typeof lessonsEnvSchema>;

export function readConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): LessonsConfig {
  return loadConfig(lessonsEnvSchema, env);
}
