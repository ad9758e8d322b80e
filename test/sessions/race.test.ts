import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { usingPostgres } from '../support/database.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';

// Concurrent requests for one person: the partial unique indexes must let exactly one through,
// whatever the interleaving. On PGlite (one connection) requests still overlap between queries.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const template = { name: 'hello_world', language: 'en_US' };

async function openSessionsOn(liveChatId: string): Promise<number> {
  const row = await t.database.handle.db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('live_chat_id', '=', liveChatId)
    .where('status', '=', sql.lit('open'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function contactsWithPhone(phone: string): Promise<number> {
  const row = await t.database.handle.db
    .selectFrom('contacts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(sql<boolean>`${phone}::text = ANY(phones)`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Exactly one 201; every other answer a 409 naming the winner. Returns the winner. */
function expectOneWinner(responses: JsonResponse[]): JsonResponse {
  const statuses = responses.map((r) => r.statusCode);
  const winners = responses.filter((r) => r.statusCode === 201);
  expect(winners, `statuses: ${statuses.join(',')}; ${responses.find((r) => r.statusCode >= 500)?.body ?? ''}`).toHaveLength(1);
  const winner = winners[0]!;
  const losers = responses.filter((r) => r !== winner);
  expect(losers.map((r) => r.statusCode)).toEqual(losers.map(() => 409));
  for (const loser of losers) {
    expect(loser.data.code).toBe('session_already_open');
    expect(loser.data.existingSessionId).toBe(winner.data.id);
  }
  return winner;
}

async function raceForOneAccount(concurrency: number): Promise<void> {
  const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
  const phone = newPhone();
  const responses = await Promise.all(
    Array.from({ length: concurrency }, (_, i) =>
      call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: `Ann ${i}`, phones: [phone] }, account: phone, message: { template } }),
    ),
  );
  const winner = expectOneWinner(responses);
  expect(await openSessionsOn(liveChatId)).toBe(1);
  expect(await contactsWithPhone(phone)).toBe(1);
  const messages = await call(t.app, 'GET', `/sessions/${winner.data.id}/messages`);
  expect(messages.data.items).toHaveLength(1);
  const allMessages = await t.database.handle.db.selectFrom('messages').select('id').where('live_chat_id', '=', liveChatId).execute();
  expect(allMessages).toHaveLength(1);
}

async function raceForOneContact(concurrency: number): Promise<void> {
  const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
  const known = newPhone();
  const contact = await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: [known] });
  const accounts = Array.from({ length: concurrency }, () => newPhone());
  const responses = await Promise.all(
    accounts.map((account) => call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contactId: contact.data.id, account, message: { template } })),
  );
  const winner = expectOneWinner(responses);
  expect(await openSessionsOn(liveChatId)).toBe(1);
  // Only the winner's account was added to the contact; the refused ones rolled back.
  const after = await call(t.app, 'GET', `/contacts/${contact.data.id}`);
  expect(after.data.phones).toEqual([known, winner.data.account]);
}

describe('concurrent POST /sessions for one person', () => {
  it.skipIf(!usingPostgres)('lets exactly one of 50 concurrent requests for one new person through (Postgres)', async () => {
    await raceForOneAccount(50);
  });

  it('lets exactly one of 10 concurrent requests for one new person through', async () => {
    await raceForOneAccount(10);
  });

  it.skipIf(!usingPostgres)('lets exactly one of 50 concurrent requests for one contact through different accounts (Postgres)', async () => {
    await raceForOneContact(50);
  });

  it('lets exactly one of 10 concurrent requests for one contact through different accounts', async () => {
    await raceForOneContact(10);
  });
});

describe('concurrent reopening', () => {
  it('reopens exactly one of several closed sessions with the same person', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: 'ann@race.example' });
      expect(created.statusCode, created.body).toBe(201);
      expect((await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {})).statusCode).toBe(200);
      ids.push(created.data.id);
    }
    const responses = await Promise.all(ids.map((id) => call(t.app, 'POST', `/sessions/${id}/reopen`, { operatorId })));
    const statuses = responses.map((r) => r.statusCode);
    const winners = responses.filter((r) => r.statusCode === 200);
    expect(winners, `statuses: ${statuses.join(',')}`).toHaveLength(1);
    for (const loser of responses.filter((r) => r.statusCode !== 200)) {
      expect(loser.statusCode, loser.body).toBe(409);
      expect(loser.data).toMatchObject({ code: 'session_already_open', existingSessionId: winners[0]!.data.id });
    }
    expect(await openSessionsOn(liveChatId)).toBe(1);
  });
});
