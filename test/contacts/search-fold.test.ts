import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldAscii, foldInDatabase, foldQuery } from '../../src/contacts/search-fold.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';

// Printable ASCII is folded in the service, without a round trip; it must meet the stored forms
// exactly as the database's own folding (migration 0011) would.

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));

/** A random string of printable ASCII, letters and spaces more often than marks. */
function randomAscii(seed: number): string {
  let state = seed;
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const letters = 'aAbBcCdDeEfFiIoOzZ0123456789     ';
  return Array.from({ length: 1 + Math.floor(next() * 20) }, () => (next() < 0.7 ? letters[Math.floor(next() * letters.length)] : PRINTABLE[Math.floor(next() * PRINTABLE.length)])).join('');
}

describe('folding a search query', () => {
  it('folds printable ASCII exactly as the database does', async () => {
    const samples = ["O'Brien", 'ANNA müll'.slice(0, 4), 'anna.m', 'a_b%c\\d', 'De Luca-Rossi', '  ', "it's", '+49 (151) 2345', ...PRINTABLE];
    for (let seed = 1; seed <= 300; seed++) samples.push(randomAscii(seed));
    for (const q of samples) expect(foldAscii(q), JSON.stringify(q)).toEqual(await foldInDatabase(database.handle.db, q));
  });

  it('leaves everything else to the database', async () => {
    for (const q of ['Müller', 'ÄNN', 'Søren', 'O’Brien', 'Łukasz', 'tab\there']) {
      expect(await foldQuery(database.handle.db, q), q).toEqual(await foldInDatabase(database.handle.db, q));
    }
    expect((await foldQuery(database.handle.db, 'ÄNN Müller')).words).toEqual(['ann', 'muller']);
  });
});
