import { validationFailed } from './problem.js';

/** The position after the last item of a page, in a newest-first (created_at, id) order. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString('base64url');
}

/** Decodes an opaque cursor; a forged or damaged one is a 400 on `/cursor`. */
export function decodeCursor(value: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      const createdAt = new Date(parsed[0]);
      if (!Number.isNaN(createdAt.getTime()) && /^[0-9a-f-]{36}$/i.test(parsed[1])) return { createdAt, id: parsed[1] };
    }
  } catch {
    // fall through to the refusal below
  }
  throw validationFailed([{ field: '/cursor', code: 'invalid_cursor', message: 'The cursor is not one this API returned.' }]);
}

/** Splits `limit + 1` fetched rows into a page and the cursor for the next one. */
export function paginate<T extends { created_at: Date; id: string }>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { page: rows, nextCursor: null };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1]!;
  return { page, nextCursor: encodeCursor({ createdAt: last.created_at, id: last.id }) };
}
