import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface OutboxStats {
  /** Messages waiting for delivery, in flight included. */
  depth: number;
  /** Of those, the ones a dispatcher holds right now. */
  inFlight: number;
  /** Age of the oldest queued message in seconds; 0 when the outbox is empty. */
  oldestAgeSeconds: number;
}

/** The outbox depth, for metrics: one pass over the partial outbox index. */
export async function outboxStats(db: Db): Promise<OutboxStats> {
  const result = await sql<{ depth: number; in_flight: number; oldest_age: number | null }>`
    SELECT count(*)::integer AS depth,
           (count(*) FILTER (WHERE locked_until > now()))::integer AS in_flight,
           extract(epoch FROM now() - min(created_at))::float8 AS oldest_age
    FROM messages
    WHERE status = 'queued'
  `.execute(db);
  const row = result.rows[0];
  return {
    depth: row?.depth ?? 0,
    inFlight: row?.in_flight ?? 0,
    oldestAgeSeconds: Math.max(0, row?.oldest_age ?? 0),
  };
}
