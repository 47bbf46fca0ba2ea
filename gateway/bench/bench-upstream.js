'use strict';
// The upstream of the gateway benchmark: a minimal express service whose one route checks the
// bearer token with platform's createAuth (ES256 against the JWKS), as every real service does.
const { randomUUID } = require('node:crypto');
const express = require('express');
const { createAuth, jwksKeyResolver } = require('@guitaronline/platform');

const auth = createAuth(jwksKeyResolver(process.env.JWKS_URL));
const app = express();
app.disable('x-powered-by');
const lesson = { id: randomUUID(), bookingId: randomUUID(), status: 'scheduled', startAt: new Date().toISOString() };

app.get('/health', (_req, res) => res.json({ status: 'ok' }));
app.get('/api/v1/lessons/my', auth.requireAuth, (req, res) => {
  res.json({ items: [{ ...lesson, studentId: req.principal.userId }], nextCursor: null });
});
app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ code: err.code ?? 'internal_error' }));

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
