import { type Expression, type SqlBool, sql } from 'kysely';
import { validationFailed } from './problem.js';

/**
 * The position after the last item of a page, in a newest-first (created_at, id) order.
 * `createdAt` keeps Postgres's microseconds (RFC 3339 text): a JS Date keeps milliseconds
 * only, and a cursor rounded to the millisecond would skip rows stored in the same one.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

/** A row as listed for a page: its `created_at` to the microsecond, see createdAtMicros. */
export interface CursorRow {
  id: string;
  created_at_us: string;
}

/** Select it next to a listed table's columns: `created_at` to the microsecond, in UTC. */
export const createdAtMicros = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('created_at_us');

/** The rows after the cursor in newest-first (created_at, id) order. */
export function afterCursor(cursor: Cursor): Expression<SqlBool> {
  return sql<SqlBool>`(created_at, id) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)`;
}

const MICROS_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/** Decodes an opaque cursor; a forged or damaged one is a 400 on `/cursor`. */
export function decodeCursor(value: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      const [createdAt, id] = parsed as [string, string];
      if (MICROS_TIMESTAMP.test(createdAt) && !Number.isNaN(Date.parse(createdAt)) && UUID.test(id)) return { createdAt, id };
    }
  } catch {
    // fall through to the refusal below
  }
  throw validationFailed([{ field: '/cursor', code: 'invalid_cursor', message: 'The cursor is not one this API returned.' }]);
}

/** Splits `limit + 1` fetched rows into a page and the cursor for the next one. */
export function paginate<T extends CursorRow>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { page: rows, nextCursor: null };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1]!;
  return { page, nextCursor: encodeCursor({ createdAt: last.created_at_us, id: last.id }) };
}
