import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { normaliseIp } from './client-ip';

/**
 * Headers a client must never be able to set: identity and gateway-internal headers a
 * service could mistake for the gateway's word, plus hop-by-hop headers that describe the
 * client's connection, not the upstream one (a forwarded `Connection: close` would close a
 * pooled upstream socket; `Expect` was already answered by this server).
 */
const STRIPPED = new Set(['x-user-id', 'x-user-role', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'expect']);
export const INTERNAL_HEADER_PREFIXES = ['x-internal-', 'x-gateway-'] as const;

export function stripClientHeaders(headers: IncomingHttpHeaders): void {
  const connection = headers.connection;
  if (connection) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && name !== 'authorization' && name !== 'host') delete headers[name];
    }
  }
  for (const name in headers) {
    if (STRIPPED.has(name) || name.startsWith('x-internal-') || name.startsWith('x-gateway-')) delete headers[name];
  }
}

/**
 * X-Forwarded-For gets the peer appended (the right-most entry is always what this gateway
 * saw); X-Forwarded-Proto/Host are kept only from a trusted proxy, otherwise they describe
 * this hop.
 */
export function setForwardedHeaders(req: IncomingMessage, peerTrusted: boolean): void {
  const headers = req.headers;
  const peer = normaliseIp(req.socket.remoteAddress);
  const prior = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${peer}` : peer;
  if (!peerTrusted || !headers['x-forwarded-proto']) headers['x-forwarded-proto'] = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (!peerTrusted || !headers['x-forwarded-host']) headers['x-forwarded-host'] = headers.host ?? '';
}
