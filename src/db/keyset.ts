import { type Expression, type SqlBool, sql } from 'kysely';

/**
 * A position in a newest-first (created_at, id) listing: the last item of a page. `createdAt`
 * keeps Postgres's microseconds (RFC 3339 text): a JS Date keeps milliseconds only, and a
 * position rounded to the millisecond would skip rows stored in the same one.
 */
export interface Keyset {
  createdAt: string;
  id: string;
}

/** A row as listed for a page: its `created_at` to the microsecond, see createdAtMicros. */
export interface KeysetRow {
  id: string;
  created_at_us: string;
}

/** `created_at` to the microsecond, in UTC, as RFC 3339 text. */
export const createdAtMicrosText = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Select it next to a listed table's columns: `created_at` to the microsecond, in UTC. */
export const createdAtMicros = createdAtMicrosText.as('created_at_us');

/** The rows after the position in newest-first (created_at, id) order. */
export function afterKeyset(position: Keyset): Expression<SqlBool> {
  return sql<SqlBool>`(created_at, id) < (${position.createdAt}::timestamptz, ${position.id}::uuid)`;
}

/** One page of a listing and the position after it (null on the last page). */
export interface Page<T, P = Keyset> {
  items: T[];
  next: P | null;
}

/** Splits `limit + 1` fetched rows into a page and the position of its last row, if more follow. */
export function pageOf<T extends KeysetRow>(rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1]!;
  return { items, next: { createdAt: last.created_at_us, id: last.id } };
}
