import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`. */
export function normaliseIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export interface ClientIpResolver {
  /** True when the address is one of the configured proxies. */
  isTrusted(address: string): boolean;
  /** The peer's address, or, when the peer is a trusted proxy, the right-most untrusted X-Forwarded-For entry. */
  clientIp(req: IncomingMessage): string;
}

/**
 * X-Forwarded-For is believed only from AUTH_RATE_LIMIT_TRUSTED_PROXY_IPS (addresses or
 * CIDR subnets). Walking the list from the right, each trusted hop vouches for the entry
 * to its left; the first untrusted entry is the client. Everything left of it is whatever
 * the client wrote and is ignored.
 */
export function createClientIpResolver(trusted: readonly string[]): ClientIpResolver {
  const list = new BlockList();
  for (const entry of trusted) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(normaliseIp(address), type);
    else list.addSubnet(address, Number(bits), type);
  }
  const none = trusted.length === 0;
  const isTrusted = (address: string): boolean => {
    if (none) return false;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
  return {
    isTrusted,
    clientIp(req) {
      const peer = normaliseIp(req.socket.remoteAddress);
      if (none || !isTrusted(peer)) return peer;
      const header = req.headers['x-forwarded-for'];
      if (!header) return peer;
      const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
      let candidate = peer;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = normaliseIp(hops[i]!.trim());
        if (isIP(hop) === 0) return candidate;
        if (!isTrusted(hop)) return hop;
        candidate = hop;
      }
      return candidate;
    },
  };
}
