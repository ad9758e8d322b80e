import type { LoggerOptions } from 'pino';

/** Paths pino replaces with [Redacted]: credentials in headers and channel secrets in bodies. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-telegram-bot-api-secret-token"]',
  'req.headers["x-hub-signature-256"]',
  'req.headers.cookie',
  '*.accessToken',
  '*.appSecret',
  '*.verifyToken',
  '*.botToken',
  '*.webhookSecret',
  '*.password',
  '*.key',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
  };
}
