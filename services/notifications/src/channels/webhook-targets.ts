import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/**
 * Where webhooks may go. A subscription names any URL an admin types, and the service POSTs to it
 * from inside the deployment: without a check, a URL naming a private address (another service,
 * the cloud's metadata endpoint at 169.254.169.254, the database) makes the webhook a way in
 * (server-side request forgery). So only addresses on the public internet are allowed — unless
 * `WEBHOOK_ALLOW_PRIVATE_TARGETS` says otherwise (development and tests, whose receivers run on
 * 127.0.0.1; production leaves it off by default).
 *
 * Checked twice: when the subscription is made (a clear 400), and on every connection a delivery
 * opens (the name may resolve elsewhere by then: DNS rebinding), where a refused address fails
 * the attempt before a byte is sent.
 */
export class WebhookTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

/** Public internet address: ipaddr.js's `unicast` range (an IPv4-mapped IPv6 address is judged as its IPv4). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** The URL's host as an address literal (brackets of an IPv6 one removed), or undefined for a name. */
function literalHost(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return ipaddr.isValid(host) ? host : undefined;
}

function refusal(host: string, address: string): WebhookTargetError {
  return new WebhookTargetError(
    host === address ? `${address} is not a public internet address` : `${host} resolves to ${address}, not a public internet address`,
  );
}

/** At subscription time: every address the URL's host has now must be public. */
export async function checkWebhookTarget(url: string): Promise<void> {
  const parsed = new URL(url);
  const literal = literalHost(parsed);
  if (literal !== undefined) {
    if (!isPublicAddress(literal)) throw refusal(literal, literal);
    return;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await lookup(parsed.hostname, { all: true });
  } catch {
    throw new WebhookTargetError(`${parsed.hostname} does not resolve`);
  }
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  if (refused) throw refusal(parsed.hostname, refused.address);
}

/** A connect-time lookup that fails for a name any of whose addresses is not public. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) return callback(refusal(hostname, refused.address) as NodeJS.ErrnoException, '', 0);
    if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
};

/**
 * The HTTP client webhooks go out through when private targets are not allowed: its connections
 * resolve names with the public-only lookup (an address literal is checked by `assertPublicUrl`
 * first, since a literal is connected to without a lookup).
 */
export function publicOnlyAgent(): Agent {
  return new Agent({ connect: { lookup: publicOnlyLookup } });
}

/** Before a delivery: a URL naming an address literal must name a public one (names are checked as they connect). */
export function assertPublicUrl(url: string): void {
  const literal = literalHost(new URL(url));
  if (literal !== undefined && !isPublicAddress(literal)) throw refusal(literal, literal);
}
