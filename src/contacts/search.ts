import type { Kysely } from 'kysely';
import type { Page } from '../db/keyset.js';
import type { ContactRow, Database } from '../db/types.js';
import { type FoldedQuery, foldQuery } from './search-fold.js';
import { findByPhone } from './search-phones.js';
import { SEARCH_TIERS, type SearchHit, type SearchPosition, type SearchTier, findByNameOrEmail } from './search-repository.js';

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

/** Whether the query can match in a tier at all. */
function canMatch(tier: SearchTier, query: FoldedQuery): boolean {
  switch (tier) {
    case 'name':
      return query.words.length > 0;
    case 'email':
      return query.folded !== '';
    case 'phone':
      return query.digits !== null;
  }
}

/**
 * The contacts `q` finds, best first: name matches, then email matches, then phone matches,
 * each contact once, at its best match. Name and email matches are read in one statement, a
 * phone fragment's phones beside it; every read is an index range in listing order, so a page
 * costs about the same whether ten contacts match or a hundred thousand.
 */
export async function searchContacts(
  db: Kysely<Database>,
  query: { q: string; limit: number; after?: SearchPosition | undefined },
): Promise<Page<ContactRow, SearchPosition>> {
  const q = query.q.trim();
  const folded: FoldedQuery = { ...(await foldQuery(db, q)), digits: phoneDigits(q) };
  const first = query.after ? SEARCH_TIERS.indexOf(query.after.tier) : 0;
  const tiers = SEARCH_TIERS.slice(first).filter((tier) => canMatch(tier, folded));
  const wanted = query.limit + 1;
  const textual = tiers.filter((tier) => tier !== 'phone');
  const phoneAfter = query.after?.tier === 'phone' ? query.after : undefined;
  // A phone fragment's name and email matches are few or none, so its phones are read at the
  // same time (on another connection), not after them.
  const none: SearchHit[] = [];
  const [found, phones] = await Promise.all([
    textual.length > 0 ? findByNameOrEmail(db, folded, textual, query.after, wanted) : none,
    tiers.includes('phone') ? findByPhone(db, { ...folded, digits: folded.digits! }, phoneAfter, wanted) : none,
  ]);
  // Each tier leaves out the contacts of the tiers before it; a contact changed between the
  // reads could still turn up twice.
  for (const hit of phones) {
    if (found.length >= wanted) break;
    if (!found.some((f) => f.id === hit.id)) found.push(hit);
  }
  const page = found.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(({ term: _term, sort_name: _sortName, tier: _tier, ...contact }) => contact),
    next: found.length > query.limit && last ? { tier: last.tier, term: last.term, sortName: last.sort_name, id: last.id } : null,
  };
}
