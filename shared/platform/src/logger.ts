import pino, { type Logger, type LoggerOptions } from 'pino';
import { getContext } from './context';

export type { Logger };

/**
 * pino JSON to stdout (pretty only on a TTY); the request/correlation ids of the current
 * AsyncLocalStorage context are merged into every line.
 */
export function createLogger(service: string, options: { level?: string; pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'test');
  const config: LoggerOptions = {
    name: service,
    level: options.level ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const { requestId, correlationId, userId } = getContext();
      return { requestId, correlationId, userId };
    },
    redact: {
      paths: ['req.headers.authorization', 'password', '*.password', 'refreshToken', '*.refreshToken', 'secret', '*.secret'],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
  };
  if (pretty) {
    return pino({ ...config, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(config);
}
