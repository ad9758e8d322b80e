import type { Clock } from '../clock.js';

/**
 * When an inbound event happened: the provider's own time (Unix seconds), but never later than
 * the server clock, so a skewed or forged timestamp cannot stretch the WhatsApp window into
 * the future. A missing or unreadable time is "now".
 */
export function eventTime(unixSeconds: number | string | undefined, clock: Clock): Date {
  const now = clock.now();
  const seconds = typeof unixSeconds === 'string' ? Number(unixSeconds) : unixSeconds;
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return now;
  return new Date(Math.min(seconds * 1000, now.getTime()));
}
