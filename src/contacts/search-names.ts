import { type Expression, type Kysely, type RawBuilder, type SqlBool, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';
import type { FoldedQuery } from './search-fold.js';
import type { SearchMatch, SearchPosition } from './search-repository.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A LIKE pattern that matches `text` literally. */
export const literal = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The folded name has a word that starts with `word`. */
const nameHasWordStarting = (word: string): RawBuilder<SqlBool> => sql<SqlBool>`(' ' || t.sort_name) LIKE ${`% ${literal(word)}%`}`;

/** Every query word starts a word of the folded name: the contact is a name match. */
export const nameMatches = (words: string[]): RawBuilder<SqlBool> => sql<SqlBool>`(${sql.join(words.map(nameHasWordStarting), sql` AND `)})`;

/**
 * A query word whose range of name words has at most this many entries is read whole, when a
 * query of several words has one: 'anna s19' reads the contacts with a word starting 's19'
 * (none) instead of every Anna in the directory only to find that none has one.
 */
export const RARE_WORD_ENTRIES = 500;

/** The word the listing is ordered by: the longest (the first of the longest, in query order). */
const leadOf = (words: string[]) => [...words].sort((a, b) => b.length - a.length)[0]!;

/** The query's words but the lead word (once). */
const othersThan = (lead: string, words: string[]) => words.filter((word, i) => word !== lead || words.indexOf(word) !== i);

/**
 * The query word other than the lead with the fewest name words starting with it, when there
 * are at most `RARE_WORD_ENTRIES`; null for one-word queries and when every other word is
 * common. One statement: a capped count of each word's range. Words of one letter are not
 * counted: they start a good part of any directory (and either way of reading lists the same
 * contacts); a query with no other word to count costs no statement.
 */
export async function rareWord(db: Db, words: string[], most = RARE_WORD_ENTRIES): Promise<string | null> {
  // The lead word's range is read in listing order anyway, never more of it than the whole.
  const candidates = othersThan(leadOf(words), words).filter((word) => word.length > 1);
  if (candidates.length === 0) return null;
  const counts = candidates.map((word) => sql<number>`(SELECT count(*) FROM (SELECT 1 FROM contact_search_names AS t WHERE t.word ^@ ${word} LIMIT ${most + 1}) AS r)`);
  const { rows } = await sql<{ counts: number[] }>`SELECT ARRAY[${sql.join(counts)}]::int[] AS counts`.execute(db);
  const sizes = rows[0]!.counts;
  const rarest = sizes.indexOf(Math.min(...sizes));
  return sizes[rarest]! <= most ? candidates[rarest]! : null;
}

/**
 * Name matches, listed by the name word the longest query word starts (an exact word before
 * its completions), then by name. A contact with two such words is listed at the first.
 *
 * Read one of two ways: the lead word's range in listing order, stopping after `limit`
 * matches; or, given a rare word, that word's whole range (at most RARE_WORD_ENTRIES), each
 * contact's listing word found in its name, sorted. Both list the same contacts in the same order.
 */
export function nameTier(db: Db, query: FoldedQuery, after: SearchPosition | undefined, limit: number, rare: string | null): Expression<SearchMatch> {
  const lead = leadOf(query.words);
  const others = othersThan(lead, query.words);
  // Read by the lead word, the row's word is the listing word; read by a rare word, the
  // listing word is the first word of the name that the lead word starts (the same one).
  const term =
    rare === null ? sql<string>`t.word` : sql<string>`(SELECT min(x.word COLLATE "C") FROM unnest(string_to_array(t.sort_name, ' ')) AS x(word) WHERE x.word ^@ ${lead})`;
  return db
    .selectFrom('contact_search_names as t')
    .select(['t.contact_id', term.as('term'), 't.sort_name'])
    .$if(rare !== null, (q) => q.distinct().where(sql<SqlBool>`t.word ^@ ${rare}`).where(nameMatches(query.words)))
    .$if(rare === null, (q) =>
      q
        .where(sql<SqlBool>`t.word ^@ ${lead}`)
        .where(sql<SqlBool>`NOT EXISTS (
          SELECT 1 FROM unnest(string_to_array(t.sort_name, ' ')) AS x(word) WHERE x.word ^@ ${lead} AND x.word < t.word COLLATE "C"
        )`)
        .$if(others.length > 0, (r) => r.where(nameMatches(others))),
    )
    .$if(after !== undefined, (q) => q.where(sql<SqlBool>`(${term}, t.sort_name, t.contact_id) > (${after!.term}, ${after!.sortName}, ${after!.id})`))
    .orderBy('term')
    .orderBy('t.sort_name')
    .orderBy('t.contact_id')
    .limit(limit);
}
