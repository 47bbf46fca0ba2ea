import { z } from '../zod';
import { isoDateTime, role, uuid } from '../primitives';
import { pageOf } from './common';

const email = z.email().max(254);
/** 8–72 bytes: bcrypt ignores bytes past 72, so longer passwords are refused, never truncated. */
const password = z
  .string()
  .min(8, 'at least 8 characters')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= 72, 'at most 72 bytes (UTF-8)');

export const registerBody = z
  .strictObject({
    email,
    password,
    fullName: z.string().trim().min(1).max(200),
    role: z.enum(['student', 'teacher']),
  })
  .openapi('RegisterRequest');

export const loginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(1024) }).openapi('LoginRequest');
export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(1024) }).openapi('RefreshRequest');
export const logoutBody = refreshBody;

export const userSchema = z
  .object({ id: uuid, email, fullName: z.string(), role, createdAt: isoDateTime })
  .openapi('User');

export const tokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int(),
  })
  .openapi('TokenPair');

export const teacherProfileBody = z
  .strictObject({
    displayName: z.string().trim().min(1).max(200),
    bio: z.string().max(2000).default(''),
    instruments: z.array(z.string().trim().min(1).max(50)).max(20).default([]),
    timezone: z
      .string()
      .min(1)
      .max(64)
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'an IANA time zone such as Europe/Berlin'),
  })
  .openapi('TeacherProfileUpdate');

export const teacherProfileSchema = z
  .object({
    teacherId: uuid,
    displayName: z.string(),
    bio: z.string(),
    instruments: z.array(z.string()),
    timezone: z.string(),
  })
  .openapi('TeacherProfile');

export const teacherIdParams = z.object({ teacherId: uuid });

export const teacherPageSchema = pageOf(teacherProfileSchema).openapi('TeacherProfilePage');

/** A public signing key as identity publishes it at /.well-known/jwks.json. */
export const jwkSchema = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string(),
    y: z.string(),
    kid: z.string(),
    alg: z.literal('ES256'),
    use: z.literal('sig'),
  })
  .openapi('Jwk');

export const jwksSchema = z.object({ keys: z.array(jwkSchema) }).openapi('Jwks');
