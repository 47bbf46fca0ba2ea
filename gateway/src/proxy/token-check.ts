const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;

/** The bearer token of an Authorization header (same grammar as platform's bearerToken). */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header)?.[1];
}
