import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, UnknownKeyError, type KeyResolver, type Role } from '@guitaronline/platform';

/**
 * A stand-in for identity's signing side in a service's component tests: an ES256 key pair,
 * a JWKS served over real HTTP, and tokens shaped like identity's access tokens.
 */
export interface TestIssuer {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwksUrl: string;
  resolveKey: KeyResolver;
  token(claims: { sub?: string; role: Role; email?: string }, options?: { expiresInSeconds?: number; kid?: string }): string;
  close(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const kid = `test-${randomUUID()}`;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    kid,
    privateKey,
    publicKey,
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    resolveKey: async (k) => {
      if (k !== kid) throw new UnknownKeyError(k);
      return publicKey;
    },
    token(claims, options = {}) {
      return jwt.sign(
        { sub: claims.sub ?? randomUUID(), role: claims.role, email: claims.email, typ: 'access' },
        privateKey,
        {
          algorithm: 'ES256',
          keyid: options.kid ?? kid,
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          expiresIn: options.expiresInSeconds ?? 300,
        },
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
