import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database } from '../db/types.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The query as the stored forms are folded: its name words, and the whole of it for emails. */
export interface FoldedQuery {
  words: string[];
  folded: string;
  /** Digits to find in a phone; null when the query is not a phone fragment of 3+ digits. */
  digits: string | null;
}

export type Folded = Omit<FoldedQuery, 'digits'>;

/** Folds with the database's own functions (migration 0011), which folded the stored forms. */
export async function foldInDatabase(db: Db, q: string): Promise<Folded> {
  const { rows } = await sql<Folded>`SELECT contact_search_words(${q}) AS words, contact_search_fold(${q}) AS folded`.execute(db);
  return rows[0]!;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
// [[:space:][:punct:]] of printable ASCII: the space and every mark that is not a letter or digit.
const ASCII_SEPARATORS = /[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]+/;

/**
 * What the database's functions make of printable ASCII, character by character: unaccent
 * leaves it as it is, lower() lower-cases A–Z, apostrophes are dropped from words and every
 * other mark or space separates them.
 */
export function foldAscii(q: string): Folded {
  const folded = q.toLowerCase();
  return { folded, words: folded.replaceAll("'", '').split(ASCII_SEPARATORS).filter((word) => word !== '') };
}

/** Every printable ASCII character, with words around them: what the agreement check folds. */
const ASCII_PROBE = `${Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('')} O'Brien Ab-Cd`;

const agreement = new WeakMap<Db, Promise<boolean>>();

/**
 * Whether this database folds printable ASCII as foldAscii does (a database whose collation
 * lower-cases differently, Turkish 'I', does not): asked once per database handle.
 */
function asciiFoldsAlike(db: Db): Promise<boolean> {
  let answer = agreement.get(db);
  if (!answer) {
    answer = foldInDatabase(db, ASCII_PROBE).then(
      (stored) => JSON.stringify(stored) === JSON.stringify(foldAscii(ASCII_PROBE)),
      () => {
        agreement.delete(db);
        return false;
      },
    );
    agreement.set(db, answer);
  }
  return answer;
}

/**
 * Folds the query exactly as the stored forms were folded. Printable ASCII (most of what
 * operators type) is folded here, without a round trip, once the database is known to fold it
 * alike; anything else (accents, other scripts) by the database.
 */
export async function foldQuery(db: Db, q: string): Promise<Folded> {
  if (PRINTABLE_ASCII.test(q) && (await asciiFoldsAlike(db))) return foldAscii(q);
  return foldInDatabase(db, q);
}
