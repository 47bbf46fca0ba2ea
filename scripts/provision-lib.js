'use strict';
// Provisioning shared by `npm run provision`, `npm start` and the jest global setup: the
// built services of this checkout with their role passwords from the environment, handed to
// the platform's provisioner (database, one role + schema per service, migrations). Idempotent.
// The platform is required when used, so a script that only checks the infrastructure runs unbuilt.
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const platform = () => require('@guitaronline/platform');

/** Services that exist in the tree and have built migrations, in a stable order. */
function servicesWithMigrations() {
  return platform().servicesWithBuiltMigrations(root);
}

/**
 * Each service's `<SERVICE>_DB_ROLE_PASSWORD` (undefined: the dev default). Production refuses
 * a missing or placeholder password, naming every such variable, before anything is created:
 * a role with a known password would let anyone in as that service.
 */
function rolePasswords(names, env) {
  const problems = [];
  const passwords = names.map((name) => {
    const variable = `${name.toUpperCase()}_DB_ROLE_PASSWORD`;
    const password = env[variable] || undefined;
    if (env.APP_ENV === 'production' && platform().isPlaceholderSecret(password)) {
      problems.push({ variable, message: password ? 'is a placeholder; production needs a real password' : 'is required in production' });
    }
    return password;
  });
  if (problems.length) throw new (platform().ConfigError)(problems);
  return passwords;
}

async function provision({ databaseUrl, env = process.env, log = () => undefined, services } = {}) {
  const names = services ?? servicesWithMigrations();
  const passwords = rolePasswords(names, env);
  return platform().provisionServices({
    databaseUrl,
    log,
    services: names.map((name, i) => ({ name, migrations: platform().builtMigrations(root, name), rolePassword: passwords[i] })),
  });
}

module.exports = { provision, servicesWithMigrations, root };
