'use strict';
/**
 * The floor for bench-gateway.js: the least a proxy written in node can do on this box — a
 * plain http server handing each request to an undici keep-alive pool (the gateway's own
 * client) and streaming the answer back. No request id, no token check, no rate limit, no
 * breaker, no header hygiene, no metrics: what remains is the extra hop itself (a second
 * process, two more sockets, parsing and writing HTTP once more). Not a gateway; a yardstick.
 *
 * env: PORT (where to listen), UPSTREAM (the service's origin).
 */
const http = require('node:http');
const { Pool } = require('undici');

const pool = new Pool(process.env.UPSTREAM, { connections: 256, keepAliveTimeout: 4_000 });
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'trailer', 'upgrade'];

const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.host;
  delete headers.connection;
  pool.stream(
    { path: req.url, method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers: answer }) => {
      for (const name of HOP_BY_HOP) delete answer[name];
      res.writeHead(statusCode, answer);
      return res;
    },
    (err) => {
      if (!err) return;
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    },
  );
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
// forked by a benchmark: it goes with it, however the benchmark ends
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.destroy().then(() => process.exit(0));
});
