import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { TOKEN_ALGORITHM, UnknownKeyError, type KeyResolver } from '@guitaronline/platform';

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: typeof TOKEN_ALGORITHM;
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

export function publicJwkOf(privateKey: KeyObject, kid: string): PublicJwk {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('signing key must be EC P-256');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: TOKEN_ALGORITHM, use: 'sig' };
}

export function signingKeyFromPem(pem: string, kid: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  return { kid, privateKey, publicJwk: publicJwkOf(privateKey, kid) };
}

/** A fresh development key; the `dev-` kid marks it as one production must never use. */
export function generateDevSigningKey(): { kid: string; privatePem: string; publicJwk: PublicJwk } {
  const kid = `dev-${randomUUID()}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicJwk: publicJwkOf(privateKey, kid) };
}

/**
 * The keys identity signs with (one active) and publishes (the active one plus any retired
 * ones still verifying tokens in flight).
 */
export class KeySet {
  private readonly publicKeys: Map<string, KeyObject>;

  constructor(
    readonly active: SigningKey,
    private readonly published: PublicJwk[],
  ) {
    if (!published.some((k) => k.kid === active.kid)) published.unshift(active.publicJwk);
    this.publicKeys = new Map(published.map((jwk) => [jwk.kid, createPublicKey({ key: { ...jwk }, format: 'jwk' })]));
  }

  jwks(): { keys: PublicJwk[] } {
    return { keys: this.published.map((k) => ({ ...k })) };
  }

  /** Identity verifies its own tokens from memory: no HTTP call to itself. */
  readonly resolveKey: KeyResolver = async (kid) => {
    const key = this.publicKeys.get(kid);
    if (!key) throw new UnknownKeyError(kid);
    return key;
  };
}
