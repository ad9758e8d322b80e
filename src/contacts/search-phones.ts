import { type AliasedExpression, type Kysely, type RawBuilder, type SqlBool, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import type { FoldedQuery } from './search-fold.js';
import { literal, nameMatches } from './search-names.js';
import type { SearchHit, SearchMatch, SearchPosition } from './search-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A phone match before it is labelled with its tier. */
type PhoneHit = Omit<SearchHit, 'tier'>;

/**
 * Phone matches are read from the suffix index while the fragment's range there has at most
 * this many entries (a few tenths of a millisecond); a fragment more numbers hold is met soon
 * enough reading the phones in listing order.
 */
export const PHONE_RANGE_LIMIT = 4000;

/** Phones that hold the query's digits, of contacts matched neither by name nor email; by name. */
export async function findByPhone(
  db: Db,
  query: FoldedQuery & { digits: string },
  after: SearchPosition | undefined,
  limit: number,
  rangeLimit = PHONE_RANGE_LIMIT,
): Promise<SearchHit[]> {
  const found = (await findByPhoneSuffix(db, query, after, limit, rangeLimit)) ?? (await findByPhoneInListingOrder(db, query, after, limit));
  return found.map((hit) => ({ ...hit, tier: 'phone' }));
}

/** The contact is neither a name match nor an email match: it was listed in an earlier tier. */
const notListedBefore = (query: FoldedQuery): RawBuilder<SqlBool> =>
  sql<SqlBool>`${query.words.length > 0 ? sql`NOT ${nameMatches(query.words)} AND` : sql``}
    NOT EXISTS (SELECT 1 FROM contact_search_emails AS d WHERE d.contact_id = t.contact_id AND d.email ^@ ${query.folded})`;

/**
 * The numbers holding the fragment as one range of the suffix index, sorted by name; null
 * when the range has more than `rangeLimit` entries (nothing else is read then).
 */
async function findByPhoneSuffix(
  db: Db,
  query: FoldedQuery & { digits: string },
  after: SearchPosition | undefined,
  limit: number,
  rangeLimit: number,
): Promise<PhoneHit[] | null> {
  const { rows } = await sql<Partial<PhoneHit> & { overflow: boolean }>`
    WITH range AS MATERIALIZED (
      SELECT s.contact_id, s.sort_name FROM contact_search_phone_suffixes AS s
      WHERE s.suffix ^@ ${query.digits} LIMIT ${rangeLimit + 1}
    ),
    size AS (SELECT count(*) > ${rangeLimit} AS overflow FROM range),
    page AS (
      SELECT DISTINCT t.contact_id, t.sort_name FROM range AS t
      WHERE NOT (SELECT overflow FROM size) AND ${notListedBefore(query)}
        ${after ? sql`AND (t.sort_name, t.contact_id) > (${after.sortName}, ${after.id})` : sql``}
      ORDER BY t.sort_name, t.contact_id LIMIT ${limit}
    )
    SELECT size.overflow, c.*, '' AS term, p.sort_name
    FROM size LEFT JOIN (page AS p JOIN contacts AS c ON c.id = p.contact_id) ON true
    ORDER BY p.sort_name, p.contact_id
  `.execute(db);
  if (rows[0]?.overflow !== false) return null;
  return rows.filter((row) => row.id !== null && row.id !== undefined).map(({ overflow: _overflow, ...hit }) => hit as PhoneHit);
}

/** Phone matches found by reading the phones in listing order: a fragment many numbers hold. */
function findByPhoneInListingOrder(db: Db, query: FoldedQuery & { digits: string }, after: SearchPosition | undefined, limit: number): Promise<PhoneHit[]> {
  const matches = db
    .selectFrom('contact_search_phones as t')
    .select(['t.contact_id', sql<string>`''`.as('term'), 't.sort_name'])
    .where(sql<SqlBool>`t.digits LIKE ${`%${literal(query.digits)}%`}`)
    .where(notListedBefore(query))
    .$if(after !== undefined, (q) => q.where(sql<SqlBool>`(t.sort_name, t.contact_id) > (${after!.sortName}, ${after!.id})`))
    .orderBy('t.sort_name')
    .orderBy('t.contact_id')
    .limit(limit);
  return withContacts(db, matches.as('m'));
}

/** The contacts of phone matches read in listing order, in that order. */
function withContacts(db: Db, matches: AliasedExpression<SearchMatch, 'm'>): Promise<PhoneHit[]> {
  return db
    .selectFrom(matches)
    .innerJoin('contacts as c', 'c.id', 'm.contact_id')
    .selectAll('c')
    .select(['m.term', 'm.sort_name'])
    .orderBy('m.term')
    .orderBy('m.sort_name')
    .orderBy('m.contact_id')
    .execute();
}
