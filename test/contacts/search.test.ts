import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError } from '../support/problems.js';

let t: TestApp;
let anna: { id: string };
beforeAll(async () => {
  t = await createTestApp();
  anna = await create('Anna Müller', { phones: ['+4915123456789'], emails: ['anna.mueller@example.com'] });
});
afterAll(() => t.close());

async function create(name: string, details: { phones?: string[]; emails?: string[] } = {}): Promise<{ id: string; name: string }> {
  const created = await call(t.app, 'POST', '/contacts', { name, ...details });
  expect(created.statusCode, created.body).toBe(201);
  return created.data;
}

async function search(q: string, query = ''): Promise<JsonResponse> {
  const response = await call(t.app, 'GET', `/contacts?q=${encodeURIComponent(q)}${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response;
}

const names = async (q: string) => (await search(q, '&limit=100')).data.items.map((c: { name: string }) => c.name);
const ids = async (q: string) => (await search(q, '&limit=100')).data.items.map((c: { id: string }) => c.id);

/** Every contact `q` finds, page after page of `limit`. */
async function allPages(q: string, limit: number): Promise<string[]> {
  const found: string[] = [];
  let cursor: string | null = null;
  do {
    const page: JsonResponse = await search(q, `&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.data.items.length).toBeLessThanOrEqual(limit);
    found.push(...page.data.items.map((c: { id: string }) => c.id));
    cursor = page.data.nextCursor;
  } while (cursor && found.length < 200);
  return found;
}

describe('GET /contacts?q= — what q matches', () => {
  it('finds Anna Müller by a word prefix of her name, whatever the case and accents', async () => {
    for (const q of ['ann', 'ANN', 'Änn', 'mull', 'müll', 'MÜLLER', 'anna müller', 'müller ann', ' anna ']) {
      expect(await ids(q), q).toContain(anna.id);
    }
  });

  it('finds her by three or more digits anywhere in her phone, however they are written', async () => {
    for (const q of ['2345', '789', '+49 151 2345', '(151) 234-56', '4915123456789']) {
      expect(await ids(q), q).toContain(anna.id);
    }
  });

  it('finds her by the start of her email, in any case', async () => {
    for (const q of ['anna.m', 'Anna.Mueller@EX', 'anna.mueller@example.com']) {
      expect(await ids(q), q).toContain(anna.id);
    }
  });

  it('does not find her by the middle of a word, of her email, or by two digits', async () => {
    for (const q of ['nna', 'ller', 'ueller@', 'example.com', '23', '2 3', 'anna x', '2345 ann']) {
      expect(await ids(q), q).not.toContain(anna.id);
    }
  });

  it('matches a q of one or two digits against names and emails only, never against phones', async () => {
    const studio = await create('Studio 23', { phones: ['+4930123456'] });
    const skidoo = await create('Skid Oo', { emails: ['23skidoo@example.com'] });
    const phoneOnly = await create('Phone Only', { phones: ['+4930231231'] });
    const found = await ids('23');
    expect(found).toEqual(expect.arrayContaining([studio.id, skidoo.id]));
    expect(found).not.toContain(phoneOnly.id);
    expect(found).not.toContain(anna.id);
    expect(await ids('231')).toContain(phoneOnly.id);
  });

  it('folds accents and case on the stored names too', async () => {
    const elodie = await create('ÉLODIE Lefèvre-Weiß');
    const lukasz = await create('Łukasz Dąbrowski');
    for (const q of ['elodie', 'Élo', 'lefe', 'LEFÈ', 'weiss', 'WEIß']) expect(await ids(q), q).toContain(elodie.id);
    for (const q of ['luk', 'łuk', 'dab', 'DĄB']) expect(await ids(q), q).toContain(lukasz.id);
  });

  it('keeps a name’s apostrophes inside its word and splits it at other punctuation', async () => {
    const obrien = await create("Siobhán O'Brien-Ortega");
    for (const q of ['obr', "o'br", 'O’Brien', 'ortega', 'siob']) expect(await ids(q), q).toContain(obrien.id);
    expect(await ids('brien')).not.toContain(obrien.id);
  });

  it('takes every character of q literally: LIKE wildcards, backslashes, quotes and regex marks', async () => {
    const wild = await create('Percent Wild', { emails: ["a%b_c'd*e@example.com"] });
    const plain = await create('Plain Letters', { emails: ['axbyc.de@example.com'] });
    expect(await ids('a%b_')).toEqual([wild.id]);
    expect(await ids("a%b_c'd*")).toEqual([wild.id]);
    expect(await ids('a.b')).not.toContain(plain.id);
    // In names punctuation only separates words: '^a' is the word prefix 'a'. Alone it matches nothing.
    for (const q of ['%%', '__', '%_', '\\\\', '.*', '^$', '[]', "''", '""', '(?:', "')--"]) {
      expect(await ids(q), q).toEqual([]);
    }
  });

  it('finds contacts created inline with a session, and follows changes to and removal of a contact', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp');
    const created = await call(t.app, 'POST', '/sessions', {
      liveChatId: chat.liveChatId,
      operatorId: chat.operatorId,
      contact: { name: 'Inline Quokkaperson', phones: ['+4915198765432'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(await names('quokka')).toEqual(['Inline Quokkaperson']);

    const renamed = await create('Oldname Wombatson', { phones: ['+4915100011122'] });
    const patched = await call(t.app, 'PATCH', `/contacts/${renamed.id}`, { name: 'Newname Wombatson', emails: ['wombat@example.com'], phones: ['+4930999888777'] });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(await ids('oldname')).toEqual([]);
    expect(await ids('newname')).toEqual([renamed.id]);
    expect(await ids('wombat@')).toEqual([renamed.id]);
    expect(await ids('00011122')).toEqual([]);
    expect(await ids('999888')).toEqual([renamed.id]);
    // The old number's suffixes are gone: the new one's eleven (3 to 13 digits) are all there is.
    const suffixes = async (id: string) =>
      (await t.database.handle.db.selectFrom('contact_search_phone_suffixes').select(['suffix', 'sort_name']).where('contact_id', '=', id).orderBy('suffix').execute());
    expect(await suffixes(renamed.id)).toEqual(
      Array.from({ length: 11 }, (_, i) => ({ suffix: '4930999888777'.slice(i), sort_name: 'newname wombatson' })).sort((a, b) => (a.suffix < b.suffix ? -1 : 1)),
    );

    const removed = await create('Removed Numbatson', { phones: ['+4915155501234'], emails: ['numbat@example.com'] });
    await t.database.handle.db.deleteFrom('contacts').where('id', '=', removed.id).execute();
    for (const q of ['numbat', '55501234']) expect(await ids(q), q).toEqual([]);
    expect(await suffixes(removed.id)).toEqual([]);
  });

  it('finds each of many contacts one statement adds (sessions written together), by its own details only', async () => {
    // One INSERT of three contacts, as a group of sessions writes them: the search rows are
    // made once for the statement (migration 0022), each contact's from its own row.
    const added = await t.database.handle.db
      .insertInto('contacts')
      .values([
        { name: 'Batch Axolotlson', phones: ['+4917011122233'], emails: ['axolotl@example.com'] },
        { name: 'Batch Okapison', phones: ['+4917044455566', '+4917077788899'], emails: [] },
        { name: 'Batch Tapirson', phones: [], emails: ['tapir@example.com', 'tapir.two@example.com'] },
      ])
      .returning(['id', 'name'])
      .execute();
    const id = (name: string) => added.find((c) => c.name === name)!.id;
    expect(await names('batch')).toEqual(['Batch Axolotlson', 'Batch Okapison', 'Batch Tapirson']);
    expect(await ids('axolotl')).toEqual([id('Batch Axolotlson')]);
    expect(await ids('axolotl@')).toEqual([id('Batch Axolotlson')]);
    expect(await ids('11122233')).toEqual([id('Batch Axolotlson')]);
    expect(await ids('4455')).toEqual([id('Batch Okapison')]);
    expect(await ids('77788899')).toEqual([id('Batch Okapison')]);
    expect(await ids('tapir.two')).toEqual([id('Batch Tapirson')]);
  });
});

describe('GET /contacts?q= — order and pages', () => {
  it('lists an exact name word before a mere prefix, name matches before email matches before phone matches', async () => {
    const prefix = await create('Kovuxa Abel');
    const exact = await create('Zed Kovu');
    const email = await create('Bruno Ortiz', { emails: ['kovu.b@example.com'] });
    expect(await ids('kovu')).toEqual([exact.id, prefix.id, email.id]);

    const byPhone = await create('Aaron Phone', { phones: ['+4917042424242'] });
    const byEmail = await create('Aaron Email', { emails: ['4242@example.com'] });
    const byName = await create('Zora 4242b');
    expect(await ids('4242')).toEqual([byName.id, byEmail.id, byPhone.id]);
  });

  it('orders the contacts of one matched word by name, ignoring case and accents', async () => {
    const created = [await create('Quirin Zander'), await create('quirin Ärger'), await create('Quirin Bauer')];
    expect(await names('quirin')).toEqual(['quirin Ärger', 'Quirin Bauer', 'Quirin Zander']);
    expect(created).toHaveLength(3);
  });

  it('pages through every match once, without gaps or repeats, across kinds of match', async () => {
    const everyone = [
      await create('Pell Vorax'),
      await create('Pell Vorax'),
      await create('Voraxine Pell'),
      await create('Vorax Voraxa Twice', { emails: ['vorax@one.example', 'vorax@two.example'] }),
      await create('Mail Only', { emails: ['vorax.mail@example.com'] }),
      await create('Other Mail', { emails: ['VORAX@three.example'] }),
    ];
    const single = await ids('vorax');
    expect(single).toHaveLength(everyone.length);
    expect(new Set(single)).toEqual(new Set(everyone.map((c) => c.id)));
    for (const limit of [1, 2, 4]) expect(await allPages('vorax', limit), `limit ${limit}`).toEqual(single);

    const phones = ['+4915111777001', '+4915111777002', '+4915111777003'];
    const byPhone = [await create('Ph One', { phones: [phones[0]!] }), await create('Ph Two', { phones: [phones[1]!, phones[2]!] })];
    expect(await allPages('11777', 1)).toEqual(byPhone.map((c) => c.id));
  });

  it('answers nextCursor null on the last page', async () => {
    const first = await search('müller', '&limit=100');
    expect(first.data.nextCursor).toBeNull();
  });
});

describe('GET /contacts?q= — refusals', () => {
  it('refuses a q of 1 or of 101 characters', async () => {
    expectFieldError(await call(t.app, 'GET', '/contacts?q=a'), '/q', 'too_short');
    expectFieldError(await call(t.app, 'GET', `/contacts?q=${'a'.repeat(101)}`), '/q', 'too_long');
    expect((await call(t.app, 'GET', `/contacts?q=${'a'.repeat(100)}`)).statusCode).toBe(200);
  });

  it('refuses q together with phone or email', async () => {
    expectFieldError(await call(t.app, 'GET', '/contacts?q=anna&phone=%2B4915123456789'), '/phone', 'conflicts_with_q');
    expectFieldError(await call(t.app, 'GET', '/contacts?q=anna&email=anna.mueller%40example.com'), '/email', 'conflicts_with_q');
  });

  it('refuses a cursor it did not issue, including one of the exact lookup', async () => {
    const lookupCursor = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000000Z', anna.id])).toString('base64url');
    const forged = Buffer.from(JSON.stringify([7, 'ann', 'anna muller', anna.id])).toString('base64url');
    for (const cursor of ['nonsense', lookupCursor, forged]) {
      expectFieldError(await call(t.app, 'GET', `/contacts?q=ann&cursor=${cursor}`), '/cursor', 'invalid_cursor');
    }
  });

  it('refuses a q with the NUL character on its field', async () => {
    expectFieldError(await call(t.app, 'GET', '/contacts?q=an%00na'), '/q', 'invalid_character');
  });
});
