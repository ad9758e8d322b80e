import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContactService } from '../../src/contacts/service.js';
import { connectDatabase } from '../../src/db/connection.js';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { type TestDatabase, createTestDatabase, usingPostgres } from '../support/database.js';

let database: TestDatabase;
const dirs: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A temporary folder of migration files; `prefix` may contain characters a URL treats specially. */
async function migrationsDir(files: Record<string, string>, prefix = 'migrations-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  await writeFiles(dir, files);
  return dir;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

async function appliedNames(): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`SELECT name FROM schema_migrations ORDER BY name`.execute(database.handle.db);
  return rows.map((r) => r.name);
}

async function tableExists(name: string): Promise<boolean> {
  const { rows } = await sql<{ found: string | null }>`SELECT to_regclass(${name})::text AS found`.execute(database.handle.db);
  return rows[0]?.found != null;
}

describe('migrate', () => {
  it('has applied the service’s own migrations, and applying them again changes nothing', async () => {
    expect(await appliedNames()).toContain('0001_initial.sql');
    expect(await migrate(database.handle)).toEqual({ applied: [] });
  });

  it('brings WhatsApp peers and senders stored in an older numbering to today’s form (0007)', async () => {
    const db = database.handle.db;
    const chat = async (type: string) =>
      (
        await sql<{ id: string }>`
          INSERT INTO live_chats (name, channel_type, channel_settings, channel_secrets) VALUES ('Old', ${type}, '{}', 'x') RETURNING id
        `.execute(db)
      ).rows[0]!.id;
    const [whatsapp, telegram] = [await chat('whatsapp'), await chat('telegram')];
    const contact = async () => (await sql<{ id: string }>`INSERT INTO contacts (name) VALUES ('Old') RETURNING id`.execute(db)).rows[0]!.id;
    const session = async (liveChatId: string, channel: string, peer: string, status: string) =>
      (
        await sql<{ id: string }>`
          INSERT INTO sessions (live_chat_id, channel, contact_id, account, peer, operator_id, status)
          VALUES (${liveChatId}, ${channel}, ${await contact()}, ${peer}, ${peer}, 'op', ${status}) RETURNING id
        `.execute(db)
      ).rows[0]!.id;
    const closedBrazil = await session(whatsapp, 'whatsapp', '+551187650001', 'closed');
    const openMexico = await session(whatsapp, 'whatsapp', '+5215512340001', 'open');
    const openBrazilHeld = await session(whatsapp, 'whatsapp', '+551187650002', 'open');
    await session(whatsapp, 'whatsapp', '+5511987650002', 'open');
    const landline = await session(whatsapp, 'whatsapp', '+551132650003', 'open');
    const telegramSession = await session(telegram, 'telegram', '+551187650004', 'open');
    await sql`
      INSERT INTO channel_contacts (live_chat_id, external_user_id, phone, first_inbound_at, last_inbound_at)
      VALUES (${whatsapp}, '551187650005', '+551187650005', now(), now()), (${telegram}, '42', '+551187650006', now(), now())
    `.execute(db);

    const dir = await migrationsDir({ '9007_whatsapp_peer_form_again.sql': await readFile(join(MIGRATIONS_DIR, '0007_whatsapp_peer_form.sql'), 'utf8') });
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['9007_whatsapp_peer_form_again.sql'] });

    const peers = Object.fromEntries(
      (await sql<{ id: string; peer: string }>`SELECT id, peer FROM sessions WHERE contact_id IN (SELECT id FROM contacts WHERE name = 'Old')`.execute(db)).rows.map((r) => [r.id, r.peer]),
    );
    expect(peers[closedBrazil]).toBe('+5511987650001');
    expect(peers[openMexico]).toBe('+525512340001');
    // Another open session already holds the new form: left as it was.
    expect(peers[openBrazilHeld]).toBe('+551187650002');
    expect(peers[landline]).toBe('+551132650003');
    expect(peers[telegramSession]).toBe('+551187650004');
    const phones = (await sql<{ phone: string }>`SELECT phone FROM channel_contacts WHERE live_chat_id IN (${whatsapp}, ${telegram}) ORDER BY phone`.execute(db)).rows;
    expect(phones.map((r) => r.phone)).toEqual(['+551187650006', '+5511987650005']);
  });

  it('makes the contacts already there searchable (0011, 0018)', async () => {
    const db = database.handle.db;
    // The schema as before 0011: no search tables, functions or triggers.
    await sql`DROP FUNCTION contact_search_refresh(), contact_search_insert() CASCADE`.execute(db);
    await sql`DROP FUNCTION contact_search_add(contacts[])`.execute(db);
    await sql`DROP TABLE contact_search_names, contact_search_emails, contact_search_phones, contact_search_phone_suffixes`.execute(db);
    await sql`DROP FUNCTION contact_search_phone_suffixes(text[])`.execute(db);
    await sql`DROP FUNCTION contact_search_words(text), contact_search_fold(text), contact_search_digits(text[])`.execute(db);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO contacts (name, phones, emails) VALUES ('Anna Müller', '{+4915123456789}', '{anna.mueller@example.com}') RETURNING id
    `.execute(db);
    const existing = rows[0]!.id;

    const dir = await migrationsDir({
      '9011_contact_search_again.sql': await readFile(join(MIGRATIONS_DIR, '0011_contact_search.sql'), 'utf8'),
      '9018_phone_suffixes_again.sql': await readFile(join(MIGRATIONS_DIR, '0018_phone_suffixes.sql'), 'utf8'),
    });
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['9011_contact_search_again.sql', '9018_phone_suffixes_again.sql'] });

    const contacts = new ContactService(db);
    for (const q of ['müll', 'ann', 'anna.m', '2345', '789', '4915123456789']) {
      expect((await contacts.search({ q, limit: 10 })).items.map((c) => c.id), q).toEqual([existing]);
    }
    const later = await contacts.create({ name: 'Later Contact' });
    expect((await contacts.search({ q: 'later', limit: 10 })).items.map((c) => c.id)).toEqual([later.id]);
  });

  it('applies SQL files in name order, once, and ignores other files', async () => {
    const dir = await migrationsDir({
      '0002_mig_order_b.sql': 'ALTER TABLE mig_order ADD COLUMN label text NOT NULL DEFAULT $$b$$;',
      '0001_mig_order_a.sql': 'CREATE TABLE mig_order (id integer PRIMARY KEY);\nINSERT INTO mig_order (id) VALUES (1);',
      'README.md': 'not a migration',
      '0003_mig_order_draft.txt': 'DROP TABLE mig_order;',
    });
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['0001_mig_order_a.sql', '0002_mig_order_b.sql'] });
    const { rows } = await sql<{ id: number; label: string }>`SELECT id, label FROM mig_order`.execute(database.handle.db);
    expect(rows).toEqual([{ id: 1, label: 'b' }]);

    expect(await migrate(database.handle, dir)).toEqual({ applied: [] });
    expect((await sql`SELECT id FROM mig_order`.execute(database.handle.db)).rows).toHaveLength(1);

    await writeFiles(dir, { '0004_mig_order_c.sql': 'INSERT INTO mig_order (id) VALUES (2);' });
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['0004_mig_order_c.sql'] });
  });

  it('throws on a failing migration and keeps nothing of it, nor runs the ones after it', async () => {
    const dir = await migrationsDir({
      '0001_mig_fail_ok.sql': 'CREATE TABLE mig_fail_ok (id integer);',
      '0002_mig_fail_broken.sql': 'CREATE TABLE mig_fail_half (id integer);\nINSERT INTO mig_fail_no_such_table VALUES (1);',
      '0003_mig_fail_later.sql': 'CREATE TABLE mig_fail_later (id integer);',
    });
    await expect(migrate(database.handle, dir)).rejects.toThrow(/mig_fail_no_such_table/);
    expect(await tableExists('mig_fail_ok')).toBe(true);
    expect(await tableExists('mig_fail_half')).toBe(false);
    expect(await tableExists('mig_fail_later')).toBe(false);
    const names = await appliedNames();
    expect(names).toContain('0001_mig_fail_ok.sql');
    expect(names).not.toContain('0002_mig_fail_broken.sql');
    expect(names).not.toContain('0003_mig_fail_later.sql');

    // Fixed, it applies together with the ones it held back.
    await writeFiles(dir, { '0002_mig_fail_broken.sql': 'CREATE TABLE mig_fail_half (id integer);' });
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['0002_mig_fail_broken.sql', '0003_mig_fail_later.sql'] });
  });

  it('applies each migration once when replicas migrate at the same time', async () => {
    const dir = await migrationsDir({
      '0001_mig_race_a.sql': 'CREATE TABLE mig_race (id integer);',
      '0002_mig_race_b.sql': 'INSERT INTO mig_race VALUES (1);',
    });
    const results = await Promise.all([migrate(database.handle, dir), migrate(database.handle, dir), migrate(database.handle, dir)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(['0001_mig_race_a.sql', '0002_mig_race_b.sql']);
    expect((await sql`SELECT id FROM mig_race`.execute(database.handle.db)).rows).toHaveLength(1);
  });

  it('reads migrations from a folder whose path has spaces, # or %', async () => {
    const dir = await migrationsDir({ '0001_mig_path.sql': 'CREATE TABLE mig_path (id integer);' }, 'release #2 100% ');
    expect(await migrate(database.handle, dir)).toEqual({ applied: ['0001_mig_path.sql'] });
    expect(await tableExists('mig_path')).toBe(true);
  });

  it.runIf(usingPostgres)('runs a migration longer than the statement timeout every other query has', async () => {
    // Filling a new index for a big table takes minutes; the service must still start.
    const handle = await connectDatabase({ databaseUrl: database.url!, poolSize: 1, statementTimeoutMs: 200 });
    try {
      await expect(sql`SELECT pg_sleep(0.4)`.execute(handle.db)).rejects.toThrow(/statement timeout/);
      const dir = await migrationsDir({ '0001_mig_slow.sql': 'SELECT pg_sleep(0.4); CREATE TABLE mig_slow (id integer);' });
      expect(await migrate(handle, dir)).toEqual({ applied: ['0001_mig_slow.sql'] });
      expect(await tableExists('mig_slow')).toBe(true);
      // The timeout was lifted for the migration only.
      await expect(sql`SELECT pg_sleep(0.4)`.execute(handle.db)).rejects.toThrow(/statement timeout/);
    } finally {
      await handle.close();
    }
  });
});
