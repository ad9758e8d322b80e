import { type Expression, type Kysely, type SqlBool, type Transaction, sql } from 'kysely';
import type { ContactRow, Database } from '../db/types.js';
import type { FoldedQuery } from './search-fold.js';
import { nameMatches, nameTier, rareWord } from './search-names.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The kinds of match, best first: a word of the name, the start of an email, digits of a phone. */
export const SEARCH_TIERS = ['name', 'email', 'phone'] as const;
export type SearchTier = (typeof SEARCH_TIERS)[number];

/**
 * A place in the search listing, the last contact of a page. The listing is ordered by
 * (tier, term, sortName, id): tier best first; term the name word or email that matched ('' for
 * phones); sortName the folded name; the id breaks ties. Each tier's index is read in exactly
 * this order, so the next page starts right after it and a contact is never listed twice.
 */
export interface SearchPosition {
  tier: SearchTier;
  term: string;
  sortName: string;
  id: string;
}

/** A contact found by one tier, with its place in the listing. */
export interface SearchMatch {
  contact_id: string;
  term: string;
  sort_name: string;
}

/** A found contact with its place in the listing. */
export type SearchHit = ContactRow & Omit<SearchMatch, 'contact_id'> & { tier: SearchTier };

/** Emails that start with the query, of contacts that are not name matches, listed by email. */
function emailTier(db: Db, query: FoldedQuery, after: SearchPosition | undefined, limit: number): Expression<SearchMatch> {
  return db
    .selectFrom('contact_search_emails as t')
    .select(['t.contact_id', 't.email as term', 't.sort_name'])
    .where(sql<SqlBool>`t.email ^@ ${query.folded}`)
    .$if(query.words.length > 0, (q) => q.where(sql<SqlBool>`NOT ${nameMatches(query.words)}`))
    // A contact with two such emails is listed at the first. OFFSET 0 keeps this a lookup of
    // the contact's own emails rather than a join with every email in the range.
    .where(sql<SqlBool>`NOT EXISTS (
      SELECT 1 FROM contact_search_emails AS d
      WHERE d.contact_id = t.contact_id AND d.email ^@ ${query.folded} AND d.email < t.email OFFSET 0
    )`)
    .$if(after !== undefined, (q) => q.where(sql<SqlBool>`(t.email, t.sort_name, t.contact_id) > (${after!.term}, ${after!.sortName}, ${after!.id})`))
    .orderBy('t.email')
    .orderBy('t.sort_name')
    .orderBy('t.contact_id')
    .limit(limit);
}

/**
 * Name and email matches in one statement, each tier's range read in listing order. The email
 * range is read only when the name matches leave the page short (a one-time filter on their
 * count), so a name query reads no emails. `after` applies to its own tier; tiers before it are
 * not read. A query of several words may first count its words' ranges (see rareWord).
 */
export async function findByNameOrEmail(
  db: Db,
  query: FoldedQuery,
  tiers: readonly ('name' | 'email')[],
  after: SearchPosition | undefined,
  limit: number,
): Promise<SearchHit[]> {
  const rare = tiers.includes('name') ? await rareWord(db, query.words) : null;
  const parts = tiers.map((tier, i) => {
    const from = after?.tier === tier ? after : undefined;
    const matches = tier === 'name' ? nameTier(db, query, from, limit, rare) : emailTier(db, query, from, limit);
    // Read only while the tiers before left the page short.
    const needed = sql.join(
      tiers.slice(0, i).map((_, j) => sql`(SELECT count(*) FROM ${sql.ref(`tier${j}`)})`),
      sql` + `,
    );
    return sql`${sql.ref(`tier${i}`)} AS MATERIALIZED (
      SELECT ${sql.lit(SEARCH_TIERS.indexOf(tier))} AS rank, m.* FROM (${matches}) AS m ${i > 0 ? sql`WHERE ${needed} < ${limit}` : sql``}
    )`;
  });
  const { rows } = await sql<ContactRow & SearchMatch & { rank: number }>`
    WITH ${sql.join(parts)}
    SELECT c.*, m.rank, m.term, m.sort_name
    FROM (${sql.join(tiers.map((_, i) => sql`SELECT * FROM ${sql.ref(`tier${i}`)}`), sql` UNION ALL `)}) AS m
      JOIN contacts AS c ON c.id = m.contact_id
    ORDER BY m.rank, m.term, m.sort_name, m.contact_id
    LIMIT ${limit}
  `.execute(db);
  return rows.map(({ rank, contact_id: _id, ...hit }) => ({ ...hit, tier: SEARCH_TIERS[rank]! }));
}
