import { prom, runService, type Knex } from '@guitaronline/platform';
import { every, startService } from '@guitaronline/service-runtime';
import { identityOpenApi } from './api/openapi';
import { identityRoutes } from './api/identity-routes';
import { opsRoutes } from './api/ops-routes';
import { normalisePem, readConfig, type IdentityConfig } from './config';
import { purgeExpiredTokens } from './data/refresh-token-repository';
import { bootstrapAdmin } from './domain/admins';
import type { IdentityDeps, IdentityObserver } from './domain/identity-deps';
import { loadSigningKeys } from './domain/load-signing-keys';
import { createPasswordHasher } from './domain/passwords';
import type { KeySet } from './domain/signing-keys';

export interface StartDeps {
  /** Injectable clock for token issue/expiry times (tests move it instead of sleeping). */
  clock?: () => Date;
}

export interface IdentityService {
  url: string;
  port: number;
  config: IdentityConfig;
  db: Knex;
  keys: KeySet;
  stop(): Promise<void>;
}

const PURGE_INTERVAL_MS = 60 * 60_000;
const PURGE_GRACE_MS = 24 * 60 * 60_000;

export async function start(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env, deps: StartDeps = {}): Promise<IdentityService> {
  const config = readConfig(env);
  const clock = deps.clock ?? (() => new Date());
  return startService({
    name: 'identity',
    config,
    openapi: identityOpenApi,
    compose: async ({ db, logger, metrics }) => {
      const keys = await loadSigningKeys(db, { pem: config.JWT_PRIVATE_KEY && normalisePem(config.JWT_PRIVATE_KEY), kid: config.JWT_KEY_ID });
      logger.info({ kid: keys.active.kid }, 'signing key ready');
      const logins = new prom.Counter({ name: 'identity_logins_total', help: 'Login attempts by outcome', labelNames: ['outcome'], registers: [metrics] });
      const reuses = new prom.Counter({ name: 'identity_refresh_token_reuse_total', help: 'Spent refresh tokens presented again (family revoked)', registers: [metrics] });
      const observer: IdentityObserver = {
        login: (outcome) => logins.inc({ outcome }),
        refreshReuse: () => {
          reuses.inc();
          logger.warn('refresh token reused: family revoked');
        },
      };
      const identity: IdentityDeps = {
        db,
        clock,
        hasher: createPasswordHasher(config.BCRYPT_COST),
        keys,
        accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
        refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS,
        observer,
      };

      if (config.BOOTSTRAP_ADMIN_EMAIL && config.BOOTSTRAP_ADMIN_PASSWORD) {
        const { user, outcome } = await bootstrapAdmin(identity, { email: config.BOOTSTRAP_ADMIN_EMAIL, password: config.BOOTSTRAP_ADMIN_PASSWORD });
        if (outcome !== 'skipped') logger.info({ userId: user?.id, outcome }, 'bootstrap admin ready');
      }

      return {
        // identity verifies its own tokens with its own keys, not through its JWKS
        resolveKey: keys.resolveKey,
        routes(app, { auth }) {
          app.use(identityRoutes(identity, auth));
          app.use(opsRoutes(db, auth));
        },
        background: [() => every(PURGE_INTERVAL_MS, 'refresh token purge', logger, () => purgeExpiredTokens(db, new Date(clock().getTime() - PURGE_GRACE_MS)))],
        handle: { keys },
      };
    },
  });
}

if (require.main === module) void runService('identity', () => start());
