import { type AliasedExpression, type Kysely, type RawBuilder, type SqlBool, type Transaction, sql } from 'kysely';
import type { ContactRow, Database } from '../db/types.js';

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
export type SearchHit = ContactRow & Omit<SearchMatch, 'contact_id'>;

/** The query as the stored forms are folded: its name words, and the whole of it for emails. */
export interface FoldedQuery {
  words: string[];
  folded: string;
  /** Digits to find in a phone; null when the query is not a phone fragment of 3+ digits. */
  digits: string | null;
}

/** Folds the query with the database's own functions, so that it meets the stored forms exactly. */
export async function foldQuery(db: Db, q: string): Promise<Omit<FoldedQuery, 'digits'>> {
  const { rows } = await sql<{ words: string[]; folded: string }>`
    SELECT contact_search_words(${q}) AS words, contact_search_fold(${q}) AS folded
  `.execute(db);
  return rows[0]!;
}

/** A LIKE pattern that matches `text` literally. */
const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The folded name has a word that starts with `word`. */
const nameHasWordStarting = (word: string): RawBuilder<SqlBool> => sql<SqlBool>`(' ' || t.sort_name) LIKE ${`% ${literal(word)}%`}`;

/** Every query word starts a word of the folded name: the contact is a name match. */
const nameMatches = (words: string[]): RawBuilder<SqlBool> => sql<SqlBool>`(${sql.join(words.map(nameHasWordStarting), sql` AND `)})`;

/**
 * Name matches, listed by the name word the longest query word starts (an exact word before
 * its completions), then by name. A contact with two such words is listed at the first.
 */
export function findByName(db: Db, query: FoldedQuery, after: SearchPosition | undefined, limit: number): Promise<SearchHit[]> {
  const [lead, ...others] = [...query.words].sort((a, b) => b.length - a.length) as [string, ...string[]];
  const matches = db
    .selectFrom('contact_search_names as t')
    .select(['t.contact_id', 't.word as term', 't.sort_name'])
    .where(sql<SqlBool>`t.word ^@ ${lead}`)
    .where(sql<SqlBool>`NOT EXISTS (
      SELECT 1 FROM unnest(string_to_array(t.sort_name, ' ')) AS x(word) WHERE x.word ^@ ${lead} AND x.word < t.word COLLATE "C"
    )`)
    .$if(others.length > 0, (q) => q.where(nameMatches(others)))
    .$if(after !== undefined, (q) => q.where(sql<SqlBool>`(t.word, t.sort_name, t.contact_id) > (${after!.term}, ${after!.sortName}, ${after!.id})`))
    .orderBy('t.word')
    .orderBy('t.sort_name')
    .orderBy('t.contact_id')
    .limit(limit);
  return withContacts(db, matches.as('m'));
}

/** Emails that start with the query, of contacts that are not name matches, listed by email. */
export function findByEmail(db: Db, query: FoldedQuery, after: SearchPosition | undefined, limit: number): Promise<SearchHit[]> {
  const matches = db
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
  return withContacts(db, matches.as('m'));
}

/** Phones that hold the query's digits, of contacts matched neither by name nor email; by name. */
export function findByPhone(db: Db, query: FoldedQuery & { digits: string }, after: SearchPosition | undefined, limit: number): Promise<SearchHit[]> {
  const matches = db
    .selectFrom('contact_search_phones as t')
    .select(['t.contact_id', sql<string>`''`.as('term'), 't.sort_name'])
    .where(sql<SqlBool>`t.digits LIKE ${`%${literal(query.digits)}%`}`)
    .$if(query.words.length > 0, (q) => q.where(sql<SqlBool>`NOT ${nameMatches(query.words)}`))
    .where(sql<SqlBool>`NOT EXISTS (SELECT 1 FROM contact_search_emails AS d WHERE d.contact_id = t.contact_id AND d.email ^@ ${query.folded})`)
    .$if(after !== undefined, (q) => q.where(sql<SqlBool>`(t.sort_name, t.contact_id) > (${after!.sortName}, ${after!.id})`))
    .orderBy('t.sort_name')
    .orderBy('t.contact_id')
    .limit(limit);
  return withContacts(db, matches.as('m'));
}

/** The contacts of one tier's matches, in the tier's order: one statement per tier. */
function withContacts(db: Db, matches: AliasedExpression<SearchMatch, 'm'>): Promise<SearchHit[]> {
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
