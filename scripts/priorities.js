'use strict';
// CPU priority of the services whose work trails the user's request: notifications (e-mail,
// webhooks) and admin (event log, KPI read model). On one box (`npm start`, the benchmarks)
// they run at a lower priority (nice `BACKGROUND_NICE`, default 10; 0 = the same as the rest),
// so under contention the request path — gateway, identity, booking, billing, lessons, and the
// saga between them — gets the CPU first and the trailing work catches up in the gaps. Nice 10
// still leaves them about a tenth of a contended core, so they are slowed, never starved.
// docker-compose.yml (cpu_shares) and deploy/k8s (CPU requests) say the same to their schedulers.
const BACKGROUND_SERVICES = ['notifications', 'admin'];

/** The nice level for background services from the environment: 0–19, default 10. */
function backgroundNice(env = process.env) {
  const raw = env.BACKGROUND_NICE;
  if (raw === undefined || raw === '') return 10;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 19) throw new Error(`BACKGROUND_NICE must be an integer from 0 to 19, not '${raw}'`);
  return n;
}

/** The shell command that runs a built service's entry (niced when it is a background service). */
function serviceCommand(name, entry, env = process.env, platform = process.platform) {
  const nice = BACKGROUND_SERVICES.includes(name) ? backgroundNice(env) : 0;
  return nice > 0 && platform !== 'win32' ? `nice -n ${nice} node ${entry}` : `node ${entry}`;
}

module.exports = { BACKGROUND_SERVICES, backgroundNice, serviceCommand };
