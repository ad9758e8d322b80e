import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import { maskLogObject, maskPersonalData } from './log-masking.js';

/** Paths pino replaces with [Redacted]: credentials in headers and channel secrets anywhere. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-telegram-bot-api-secret-token"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers.cookie',
  'headers.authorization',
  '*.accessToken',
  '*.appSecret',
  '*.verifyToken',
  '*.botToken',
  '*.webhookSecret',
  '*.inboundSecret',
  '*.password',
  '*.pass',
  '*.key',
  '*.adminApiKey',
  '*.secretsKey',
  '*.secret',
  '*.secrets',
];

/**
 * pino settings for the service: secrets redacted by path, phone numbers and emails masked
 * (`+4915*****789`) in every logged string, and the default request serialiser kept lean.
 */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    formatters: { log: (object) => maskLogObject(object) },
    hooks: {
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskPersonalData(a) : a)) as Parameters<typeof method>;
        return method.apply(this, masked);
      },
    },
  };
}

/**
 * The service's logger: readable lines when `destination` is a terminal outside production (a
 * developer watching `npm start`), JSON lines otherwise (a log collector reading them).
 */
export function createLogger(options: { level: string; nodeEnv: string }, destination: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Logger {
  const settings = loggerOptions(options.level);
  if (destination.isTTY && options.nodeEnv !== 'production') {
    return pino(settings, pretty({ destination, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  return pino(settings, destination);
}
