import type { ZodError } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

/**
 * The one error type of the platform: a stable machine-readable `code`, the HTTP status it
 * maps to, and a message safe to show the client. Anything else thrown is an internal error
 * whose details never leave the process.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: { errors?: FieldError[]; headers?: Record<string, string>; [key: string]: unknown };

  constructor(code: string, status: number, message: string, options: { cause?: unknown; details?: AppError['details'] } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = options.details;
  }

  get isClientError(): boolean {
    return this.status < 500;
  }
}

export const errors = {
  validation(errorsList: FieldError[], status = 400, message = 'The request is not valid.') {
    return new AppError('validation_failed', status, message, { details: { errors: errorsList } });
  },
  unauthorized(message = 'A valid bearer token is required.') {
    return new AppError('unauthorized', 401, message, { details: { headers: { 'WWW-Authenticate': 'Bearer' } } });
  },
  forbidden(message = 'You are not allowed to do this.') {
    return new AppError('forbidden', 403, message);
  },
  notFound(what = 'resource') {
    return new AppError('not_found', 404, `The ${what} does not exist.`);
  },
  conflict(code: string, message: string) {
    return new AppError(code, 409, message);
  },
  unavailable(message = 'A dependency is unavailable; try again shortly.') {
    return new AppError('service_unavailable', 503, message);
  },
};

export function fieldErrorsFromZod(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || (prefix ?? ''),
    message: issue.message,
  }));
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  requestId?: string;
  errors?: FieldError[];
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Turns anything thrown into an AppError; unknown errors become an opaque 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean };
  // body-parser / raw-body errors carry a `type` and an http status we can trust
  if (e && typeof e === 'object' && typeof e.type === 'string') {
    if (e.type === 'entity.too.large') return new AppError('payload_too_large', 413, 'The request body is too large.', { cause: err });
    if (e.type === 'entity.parse.failed') return new AppError('malformed_json', 400, 'The request body is not valid JSON.', { cause: err });
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
      return new AppError('unsupported_media_type', 415, 'The request body encoding is not supported.', { cause: err });
    if (e.type === 'request.aborted') return new AppError('request_aborted', 400, 'The request was aborted.', { cause: err });
  }
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && e.expose !== false) {
    return new AppError('bad_request', status, titles[status] ?? 'Bad request', { cause: err });
  }
  return new AppError('internal_error', 500, 'An internal error occurred.', { cause: err });
}

export function toProblem(error: AppError, requestId?: string): Problem {
  const problem: Problem = {
    type: `https://guitaronline.dev/problems/${error.code.replace(/_/g, '-')}`,
    title: titles[error.status] ?? 'Error',
    status: error.status,
    code: error.code,
    detail: error.status >= 500 && error.code === 'internal_error' ? 'An internal error occurred.' : error.message,
    requestId,
  };
  if (error.details?.errors) problem.errors = error.details.errors;
  return problem;
}
