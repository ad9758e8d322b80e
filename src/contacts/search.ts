import type { Kysely } from 'kysely';
import type { Page } from '../db/keyset.js';
import type { ContactRow, Database } from '../db/types.js';
import {
  type FoldedQuery,
  SEARCH_TIERS,
  type SearchHit,
  type SearchPosition,
  type SearchTier,
  findByEmail,
  findByName,
  findByPhone,
  foldQuery,
} from './search-repository.js';

/** Fewer digits than this would be found in most numbers: such a query matches no phone. */
export const MIN_PHONE_DIGITS = 3;

/** Digits and the marks phone numbers are written with: `+49 (151) 234-56.78`. */
const PHONE_FRAGMENT = /^[0-9\s+\-./()]+$/;

/** The digits to look for in phones, or null when the query is not a phone fragment of 3+ digits. */
export function phoneDigits(q: string): string | null {
  if (!PHONE_FRAGMENT.test(q)) return null;
  const digits = q.replace(/[^0-9]/g, '');
  return digits.length >= MIN_PHONE_DIGITS ? digits : null;
}

/** One tier's matches after `after` (which is in this tier), or null when the query cannot match in it. */
function findInTier(db: Kysely<Database>, tier: SearchTier, query: FoldedQuery, after: SearchPosition | undefined, limit: number): Promise<SearchHit[]> | null {
  switch (tier) {
    case 'name':
      return query.words.length > 0 ? findByName(db, query, after, limit) : null;
    case 'email':
      return query.folded !== '' ? findByEmail(db, query, after, limit) : null;
    case 'phone':
      return query.digits !== null ? findByPhone(db, { ...query, digits: query.digits }, after, limit) : null;
  }
}

/**
 * The contacts `q` finds, best first: name matches, then email matches, then phone matches,
 * each contact once, at its best match. Reads tier after tier until the page and one more are
 * found; every read is one index range in listing order, so a page costs about the same
 * whether ten contacts match or a hundred thousand.
 */
export async function searchContacts(
  db: Kysely<Database>,
  query: { q: string; limit: number; after?: SearchPosition | undefined },
): Promise<Page<ContactRow, SearchPosition>> {
  const q = query.q.trim();
  const folded: FoldedQuery = { ...(await foldQuery(db, q)), digits: phoneDigits(q) };
  const found: (SearchHit & { tier: SearchTier })[] = [];
  const first = query.after ? SEARCH_TIERS.indexOf(query.after.tier) : 0;
  for (const tier of SEARCH_TIERS.slice(first)) {
    if (found.length > query.limit) break;
    const after = query.after?.tier === tier ? query.after : undefined;
    const hits = await findInTier(db, tier, folded, after, query.limit + 1 - found.length);
    // Each tier leaves out the contacts of the tiers before it; a contact changed between two
    // reads could still turn up twice.
    for (const hit of (await hits) ?? []) if (!found.some((f) => f.id === hit.id)) found.push({ ...hit, tier });
  }
  const page = found.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(({ term: _term, sort_name: _sortName, tier: _tier, ...contact }) => contact),
    next: found.length > query.limit && last ? { tier: last.tier, term: last.term, sortName: last.sort_name, id: last.id } : null,
  };
}
