import { validationFailed } from '../domain/refusal.js';
import type { Keyset } from '../db/keyset.js';
import { SEARCH_TIERS, type SearchPosition } from '../contacts/search-repository.js';

const MICROS_TIMESTAMP = /^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The opaque cursor of a listing position. */
export function encodeCursor(position: Keyset): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** Decodes an opaque cursor; a forged or damaged one is a 400 on `/cursor`. */
export function decodeCursor(value: string): Keyset {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      const [createdAt, id] = parsed as [string, string];
      const year = Number(MICROS_TIMESTAMP.exec(createdAt)?.[1]);
      // Postgres has no year 0 (and the service never wrote a row before 2000).
      if (year >= 1 && !Number.isNaN(Date.parse(createdAt)) && UUID.test(id)) return { createdAt, id };
    }
  } catch {
    // fall through to the refusal below
  }
  throw invalidCursor();
}

/** The opaque cursor of a position in storage order (a session's messages). */
export function encodeSeqCursor(seq: number): string {
  return Buffer.from(JSON.stringify([seq])).toString('base64url');
}

export function decodeSeqCursor(value: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 1 && Number.isSafeInteger(parsed[0]) && (parsed[0] as number) >= 0) return parsed[0] as number;
  } catch {
    // fall through to the refusal below
  }
  throw invalidCursor();
}

/** The opaque cursor of a place in the contact search listing. */
export function encodeSearchCursor(position: SearchPosition): string {
  const tier = SEARCH_TIERS.indexOf(position.tier);
  return Buffer.from(JSON.stringify([tier, position.term, position.sortName, position.id])).toString('base64url');
}

/** Decodes a contact search cursor; a forged or damaged one is a 400 on `/cursor`. */
export function decodeSearchCursor(value: string): SearchPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 4) {
      const [tier, term, sortName, id] = parsed as unknown[];
      const text = (v: unknown): v is string => typeof v === 'string' && !v.includes('\u0000');
      if (typeof tier === 'number' && SEARCH_TIERS[tier] && text(term) && text(sortName) && typeof id === 'string' && UUID.test(id)) {
        return { tier: SEARCH_TIERS[tier], term, sortName, id };
      }
    }
  } catch {
    // fall through to the refusal below
  }
  throw invalidCursor();
}

export const invalidCursor = () => validationFailed([{ field: '/cursor', code: 'invalid_cursor', message: 'The cursor is not one this API returned.' }]);

/** A listing page as the API answers it: its items mapped, and the cursor of the next page. */
export function pageResponse<T, R, P = Keyset>(
  page: { items: T[]; next: P | null },
  map: (item: T) => R,
  encode: (position: P) => string = encodeCursor as (position: P) => string,
): { items: R[]; nextCursor: string | null } {
  return { items: page.items.map(map), nextCursor: page.next !== null ? encode(page.next) : null };
}
