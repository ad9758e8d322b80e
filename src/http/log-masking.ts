import { maskAccount } from '../accounts/accounts.js';

const PHONE = /\+\d[\d\s\-.()]{6,20}\d/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

/** Masks phone numbers and email addresses inside free text (log messages, error texts). */
export function maskPersonalData(text: string): string {
  return text.replace(PHONE, (m) => maskAccount(`+${m.replace(/\D/g, '')}`)).replace(EMAIL, (m) => maskAccount(m));
}

/** Applies maskPersonalData to every string in a log object, a few levels deep. */
export function maskLogObject<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return maskPersonalData(value) as T;
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: maskPersonalData(value.message), stack: value.stack ? maskPersonalData(value.stack) : undefined } as T;
  }
  if (Array.isArray(value)) return value.map((v) => maskLogObject(v, depth + 1)) as T;
  const result: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) result[k] = maskLogObject(v, depth + 1);
  return result as T;
}
