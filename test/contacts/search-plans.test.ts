import { type CompiledQuery, Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  await sql`ANALYZE contacts, contact_search_names, contact_search_emails, contact_search_phones`.execute(handle.db);
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

  it('reads emails through their index', async () => {
    const plans = await plansOfSearch('kunde12');
    expect(plans.some((plan) => plan.includes('contact_search_emails_order'))).toBe(true);
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });

  it('reads phone digits through the trigram or the listing-order index', async () => {
    const plans = await plansOfSearch('4915');
    expect(plans.some((plan) => /contact_search_phones_(trgm|order)/.test(plan))).toBe(true);
    for (const plan of plans) expect(plan).not.toMatch(/Seq Scan/);
  });
});
