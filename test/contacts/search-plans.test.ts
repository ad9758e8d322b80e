import { type CompiledQuery, Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldQuery } from '../../src/contacts/search-fold.js';
import { nameTier, rareWord } from '../../src/contacts/search-names.js';
import { findByPhone } from '../../src/contacts/search-phones.js';
import type { SearchMatch, SearchPosition } from '../../src/contacts/search-repository.js';
import { ContactService } from '../../src/contacts/service.js';
import type { Database } from '../../src/db/types.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';

// The search must stay an index read at a million contacts. Here: on this database (PGlite or
// Postgres), every statement a search runs has a plan without a sequential scan once scans
// are priced out, so an index can serve each of them.

let database: TestDatabase;
let db: Kysely<Database>;
const ran: CompiledQuery[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const { handle } = database;
  // The same connection, with every statement recorded (not destroyed: the handle owns it).
  const dialect = handle.pool ? new PostgresDialect({ pool: handle.pool }) : new PGliteDialect({ pglite: handle.pglite! });
  db = new Kysely<Database>({ dialect, log: (event) => void (event.level === 'query' && ran.push(event.query)) });
  await sql`
    INSERT INTO contacts (name, phones, emails)
    SELECT (ARRAY['Anna', 'Jürgen', 'Zoë', 'Łukasz'])[1 + g % 4] || ' ' || (ARRAY['Müller', 'Weiß', 'García', 'Nowak', 'Dvořák'])[1 + g % 5] || ' ' || g,
           ARRAY['+49151' || lpad((g * 7919 % 100000000)::text, 8, '0')],
           ARRAY['kunde' || g || '@example.com']
    FROM generate_series(1, 3000) AS g
  `.execute(handle.db);
  await sql`ANALYZE contacts, contact_search_names, contact_search_emails, contact_search_phones, contact_search_phone_suffixes`.execute(handle.db);
});
afterAll(() => database.drop());

/** The plan of a recorded statement, with sequential scans priced out. */
async function planOf(query: CompiledQuery): Promise<string> {
  return database.handle.db.transaction().execute(async (trx) => {
    await sql`SET LOCAL enable_seqscan = off`.execute(trx);
    const { rows } = await trx.executeQuery<Record<string, string>>({ ...query, sql: `EXPLAIN ${query.sql}` });
    return rows.map((row) => Object.values(row)[0]).join('\n');
  });
}

/** Runs a search (its first two pages) and returns the plans of the statements that read tables. */
async function plansOfSearch(q: string): Promise<string[]> {
  ran.length = 0;
  const contacts = new ContactService(db);
  const first = await contacts.search({ q, limit: 5 });
  expect(first.next, `"${q}" finds more than a page`).not.toBeNull();
  await contacts.search({ q, limit: 5, after: first.next! });
  const reads = ran.filter((query) => /\bfrom "?contact/i.test(query.sql));
  return Promise.all(reads.map(planOf));
}

describe('contact search plans', () => {
  it('reads name words through their index, also with more than one word', async () => {
    for (const q of ['ann', 'Jür', 'müller an']) {
      const plans = await plansOfSearch(q);
      expect(plans.some((plan) => plan.includes('contact_search_names_order')), q).toBe(true);
      for (const plan of plans) expect(plan, q).not.toMatch(/Seq Scan/);
    }
  });

  it('reads no email when the name matches fill the page, and the emails when they do not', async () => {
    const analyzed = async (q: string) => {
      ran.length = 0;
      await new ContactService(db).search({ q, limit: 5 });
      const statement = ran.find((query) => query.sql.includes('contact_search_emails'))!;
      const { rows } = await database.handle.db.executeQuery<Record<string, string>>({ ...statement, sql: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${statement.sql}` });
      return rows.map((row) => String(Object.values(row)[0])).find((line) => line.includes('on contact_search_emails t'))!;
    };
    expect(await analyzed('ann')).toContain('never executed');
    expect(await analyzed('kunde12')).not.toContain('never executed');
  });

  it('reads emails through their index', async () => {
    const plans = await plansOfSearch('kunde12');
    expect(plans.some((plan) => plan.includes('contact_search_emails_order'))).toBe(true);
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });

  it('reads phone digits as one range of the suffix index', async () => {
    const plans = await plansOfSearch('4915');
    expect(plans.some((plan) => plan.includes('contact_search_phone_suffixes_order'))).toBe(true);
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });

  it('reads the phones in listing order when more numbers hold the fragment than the range may read', async () => {
    ran.length = 0;
    const query = { words: ['4915'], folded: '4915', digits: '4915' };
    expect(await findByPhone(db, query, undefined, 5, 10)).toHaveLength(5);
    const plans = await Promise.all(ran.map(planOf));
    expect(plans).toHaveLength(2);
    expect(plans[0]).toContain('contact_search_phone_suffixes_order');
    expect(plans[1]).toContain('contact_search_phones_order');
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });

  it('lists the same phone matches, page after page, whichever way they are read', async () => {
    const pages = async (digits: string, rangeLimit: number) => {
      const query = { words: [digits], folded: digits, digits };
      const ids: string[] = [];
      let after: SearchPosition | undefined;
      for (;;) {
        const hits = await findByPhone(db, query, after, 7, rangeLimit);
        ids.push(...hits.map((hit) => hit.id));
        const last = hits.at(-1);
        if (hits.length < 7 || !last || ids.length >= 12 * 7) return ids;
        after = { tier: 'phone', term: '', sortName: last.sort_name, id: last.id };
      }
    };
    // Every number (the first twelve pages), a few dozen, a few.
    for (const digits of ['4915', '123', '777']) {
      const fromRange = await pages(digits, 100_000);
      expect(fromRange.length, digits).toBeGreaterThan(7);
      expect(new Set(fromRange).size, digits).toBe(fromRange.length);
      expect(await pages(digits, 1), digits).toEqual(fromRange);
    }
  });

  it('lists the same name matches, page after page, reading the lead word or a rarer one', async () => {
    const pages = async (q: string, rare: string | null) => {
      const query = { ...(await foldQuery(db, q)), digits: null };
      const found: string[] = [];
      let after: SearchPosition | undefined;
      for (;;) {
        const { rows } = await sql<SearchMatch>`SELECT * FROM (${nameTier(db, query, after, 6, rare)}) AS m`.execute(db);
        found.push(...rows.map((row) => `${row.term}/${row.contact_id}`));
        const last = rows.at(-1);
        if (rows.length < 6 || !last || found.length >= 30 * 6) return found;
        after = { tier: 'name', term: last.term, sortName: last.sort_name, id: last.contact_id };
      }
    };
    for (const [q, rare] of [['anna 12', '12'], ['Müller an', 'an'], ['zo 1 nowak', 'zo'], ['an 29', '29']] as const) {
      const folded = await foldQuery(db, q);
      expect(await rareWord(db, folded.words, 2000), q).toBe(rare);
      const byLead = await pages(q, null);
      expect(byLead.length, q).toBeGreaterThan(6);
      expect(await pages(q, rare), q).toEqual(byLead);
    }
    // One word, or every word common: read by the lead word, in listing order.
    expect(await rareWord(db, ['anna'])).toBe(null);
    expect(await rareWord(db, ['an', 'mu'], 700)).toBe('mu');
    expect(await rareWord(db, ['an', 'mu'], 500)).toBe(null);
    // The lead word is never counted (its range is read in listing order anyway), nor one letter.
    expect(await rareWord(db, ['anna', 'mu', 'z'], 700)).toBe('mu');
    expect(await rareWord(db, ['a', 'mu', 'z'], 700)).toBe(null);
  });
});
