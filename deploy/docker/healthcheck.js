'use strict';
// Container HEALTHCHECK: exit 0 when GET /health on this process's port answers 200.
// The port is PORT if set, else the service's default port (DESIGN.md "Services"; the
// deploy tests check this table against every service's config). The one-shot provisioner
// has no HTTP server and counts as healthy while it runs.
const http = require('node:http');

const DEFAULT_PORTS = {
  gateway: 8000,
  identity: 8001,
  booking: 8002,
  billing: 8003,
  lessons: 8004,
  notifications: 8005,
  admin: 8006,
};

const service = process.env.SERVICE || '';
if (service === 'provision') process.exit(0);

const port = Number(process.env.PORT || DEFAULT_PORTS[service]);
if (!port) {
  process.stderr.write(`healthcheck: no port for SERVICE '${service}' (set PORT)\n`);
  process.exit(1);
}

const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
