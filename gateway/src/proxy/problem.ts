import { AppError, sendProblem } from '@guitaronline/platform';

/** platform's sendProblem, which writes to a plain node response too (the proxy path has no express). */
export const writeProblem = sendProblem;

export const gatewayErrors = {
  notFound: (method: string | undefined, path: string) => new AppError('not_found', 404, `No route for ${method ?? 'GET'} ${path}.`),
  uriTooLong: (max: number) => new AppError('uri_too_long', 414, `The request URL is longer than ${max} characters.`),
  payloadTooLarge: (max: number) => new AppError('payload_too_large', 413, `The request body is larger than ${max} bytes.`),
  rateLimited: (retryAfterSeconds: number) =>
    new AppError('rate_limited', 429, `Too many requests; retry in ${retryAfterSeconds} s.`, { details: { headers: { 'Retry-After': String(retryAfterSeconds) } } }),
  circuitOpen: (upstream: string, retryAfterSeconds: number) =>
    new AppError('service_unavailable', 503, `The ${upstream} service is unavailable; try again shortly.`, {
      details: { headers: { 'Retry-After': String(retryAfterSeconds) } },
    }),
  upstreamUnavailable: (upstream: string) => new AppError('service_unavailable', 503, `The ${upstream} service is unavailable; try again shortly.`),
  upstreamTimeout: (upstream: string) => new AppError('upstream_timeout', 504, `The ${upstream} service did not answer in time.`),
};
