import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { AppError, sendProblem, toProblem } from '@guitaronline/platform';

/** platform's sendProblem, which writes to a plain node response too (the proxy path has no express). */
export const writeProblem = sendProblem;

/**
 * A problem+json written straight to the socket, for errors node's parser raises before a
 * request object exists (header too large, request timeout, malformed request line).
 */
export function writeProblemToSocket(socket: Socket, error: AppError, requestId: string): void {
  const body = JSON.stringify(toProblem(error, requestId));
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      'Content-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export const gatewayErrors = {
  notFound: (method: string | undefined, path: string) => new AppError('not_found', 404, `No route for ${method ?? 'GET'} ${path}.`),
  uriTooLong: (max: number) => new AppError('uri_too_long', 414, `The request URL is longer than ${max} characters.`),
  payloadTooLarge: (max: number) => new AppError('payload_too_large', 413, `The request body is larger than ${max} bytes.`),
  headersTooLarge: () => new AppError('request_header_fields_too_large', 431, 'The request headers are too large.'),
  requestTimeout: () => new AppError('request_timeout', 408, 'The request was not received in time.'),
  badRequest: () => new AppError('bad_request', 400, 'The request could not be parsed.'),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError('rate_limited', 429, `Too many requests; retry in ${retryAfterSeconds} s.`, { details: { headers: { 'Retry-After': String(retryAfterSeconds) } } }),
  circuitOpen: (upstream: string, retryAfterSeconds: number) =>
    new AppError('service_unavailable', 503, `The ${upstream} service is unavailable; try again shortly.`, {
      details: { headers: { 'Retry-After': String(retryAfterSeconds) } },
    }),
  upstreamUnavailable: (upstream: string) => new AppError('service_unavailable', 503, `The ${upstream} service is unavailable; try again shortly.`),
  upstreamTimeout: (upstream: string) => new AppError('upstream_timeout', 504, `The ${upstream} service did not answer in time.`),
};
