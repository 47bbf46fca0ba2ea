/** The services behind the gateway, each answering on its own base URL. */
export const UPSTREAMS = ['identity', 'booking', 'billing', 'lessons', 'notifications', 'admin'] as const;
export type UpstreamName = (typeof UPSTREAMS)[number];

export type AuthLimit = 'register' | 'login' | 'refresh';

/**
 * How the gateway treats a path: `own` routes are answered by the gateway itself; proxied
 * routes are `public` (no token), `ip-limited` (no token, per-IP limit: register/login/refresh)
 * or `user` (token required, per-user limit).
 */
export type Route =
  | { kind: 'own' }
  | { kind: 'proxy'; upstream: UpstreamName; access: 'public' }
  | { kind: 'proxy'; upstream: UpstreamName; access: 'ip-limited'; limit: AuthLimit }
  | { kind: 'proxy'; upstream: UpstreamName; access: 'user' };

/** API.md's path prefixes and the service that owns each. */
export const PREFIXES: ReadonlyArray<readonly [prefix: string, upstream: UpstreamName]> = [
  ['/api/v1/identity', 'identity'],
  ['/api/v1/teachers', 'identity'],
  ['/api/v1/scheduling', 'booking'],
  ['/api/v1/booking', 'booking'],
  ['/api/v1/billing', 'billing'],
  ['/api/v1/lessons', 'lessons'],
  ['/api/v1/notifications', 'notifications'],
  ['/api/v1/admin', 'admin'],
];

const OWN: Route = { kind: 'own' };
const OWN_PATHS = new Set(['/health', '/ready', '/metrics', '/openapi.json', '/docs']);

/** Exact public paths (compared lower-cased, without a trailing slash). */
const EXACT: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/.well-known/jwks.json', { kind: 'proxy', upstream: 'identity', access: 'public' }],
  ['/api/v1/identity/auth/register', { kind: 'proxy', upstream: 'identity', access: 'ip-limited', limit: 'register' }],
  ['/api/v1/identity/auth/login', { kind: 'proxy', upstream: 'identity', access: 'ip-limited', limit: 'login' }],
  ['/api/v1/identity/auth/refresh', { kind: 'proxy', upstream: 'identity', access: 'ip-limited', limit: 'refresh' }],
]);

const USER_ROUTES = new Map<UpstreamName, Route>(UPSTREAMS.map((u) => [u, { kind: 'proxy', upstream: u, access: 'user' }]));

/**
 * Dot segments and encoded separators never name a resource here; refusing them keeps a
 * path from looking public to the gateway and private to a service (`/auth/login/../../users/me`).
 */
const AMBIGUOUS = /(?:^|\/)\.{1,2}(?:\/|$)|%2e|%2f|%5c|\\/i;

/**
 * Classifies a request path (no query string). Matching is case-insensitive because express
 * routes case-insensitively upstream: `/AUTH/LOGIN` must meet the login limit, not the user one.
 * Returns undefined for a path no one serves.
 */
export function classifyPath(path: string): Route | undefined {
  if (AMBIGUOUS.test(path)) return undefined;
  let p = path.toLowerCase();
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const exact = EXACT.get(p);
  if (exact) return exact;
  if (OWN_PATHS.has(p) || p.startsWith('/docs/')) return OWN;
  for (const [prefix, upstream] of PREFIXES) {
    if (p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 47 /* / */)) {
      return USER_ROUTES.get(upstream);
    }
  }
  return undefined;
}
