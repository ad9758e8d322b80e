import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QueryRunner, createQueryRunner } from '../../src/db/prepared.js';
import type { ChannelType } from '../../src/domain/channel.js';
import type { Database } from '../../src/db/types.js';
import { type CreateWrite, type WrittenInitiation, writeCreates } from '../../src/sessions/initiation-repository.js';
import { type OutboxEntry, UNCLAIMED } from '../../src/sessions/outbound-queue.js';
import { InitiationWriter } from '../../src/sessions/initiation-writer.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';

let t: TestApp;
let db: Kysely<Database>;
beforeAll(async () => {
  t = await createTestApp();
  db = t.database.handle.db;
});
afterAll(() => t.close());

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;
const newAddress = () => `person-${unique()}@example.org`;

/** One statement the writer ran: the accounts of its initiations, in order, and how it ended. */
interface Statement {
  accounts: string[];
  outcome: 'running' | 'ok' | 'error';
}

/**
 * The real query runner, recording every statement (each is one writeCreates call) and
 * optionally failing some of them before they reach the database.
 */
function recordingRunner(options: { fail?: (accounts: string[]) => unknown } = {}) {
  const inner = createQueryRunner(t.database.handle);
  const statements: Statement[] = [];
  const run: QueryRunner = async (query) => {
    const input = JSON.parse(query.parameters[0] as string) as Array<{ account: string }>;
    const statement: Statement = { accounts: input.map((x) => x.account), outcome: 'running' };
    statements.push(statement);
    try {
      const injected = options.fail?.(statement.accounts);
      if (injected) throw injected;
      const rows = await inner(query);
      statement.outcome = 'ok';
      return rows;
    } catch (error) {
      statement.outcome = 'error';
      throw error;
    }
  };
  return { run, statements };
}

/** An initiation with an inline contact on an email live chat (the account is the address). */
function emailWrite(chat: { liveChatId: string; operatorId: string }, overrides: Partial<CreateWrite> = {}): CreateWrite {
  const address = overrides.account ?? newAddress();
  return {
    kind: 'create',
    liveChatId: chat.liveChatId,
    channel: 'email',
    operatorId: chat.operatorId,
    contact: { name: `Person ${address}`, phones: [], emails: [address] },
    account: address,
    addAccountTo: null,
    peer: address,
    consentKeys: [address],
    catalogueVersion: null,
    message: { text: `Hello ${address}` },
    outbox: UNCLAIMED,
    at: new Date(),
    ...overrides,
  };
}

async function countRows(table: 'contacts' | 'sessions' | 'messages'): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function messageRow(id: string) {
  return db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

const emailChat = () => liveChatWithOperator(t.app, 'email');

describe('InitiationWriter (group commit)', () => {
  it('writes concurrent initiations in fewer statements than initiations, each caller getting its own session and message', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const writes = Array.from({ length: 20 }, () => emailWrite(chat));
    const sessionsBefore = await countRows('sessions');

    const results = await Promise.all(writes.map((w) => writer.write(w)));

    // The first goes at once, alone; the 19 that arrived while it ran share the next statement.
    expect(statements.map((s) => s.accounts.length)).toEqual([1, 19]);
    expect(statements.every((s) => s.outcome === 'ok')).toBe(true);
    expect(statements.flatMap((s) => s.accounts)).toEqual(writes.map((w) => w.account));
    expect(await countRows('sessions')).toBe(sessionsBefore + 20);

    const sessionIds = new Set<string>();
    const messageIds = new Set<string>();
    for (const [i, written] of results.entries()) {
      const w = writes[i]!;
      expect(written, `write ${i}`).toBeDefined();
      const { session, message } = written!;
      expect(session).toMatchObject({
        live_chat_id: chat.liveChatId,
        channel: 'email',
        operator_id: chat.operatorId,
        account: w.account,
        peer: w.peer,
        status: 'open',
        closed_at: null,
      });
      expect(session.created_at).toBeInstanceOf(Date);
      expect(message).toMatchObject({
        session_id: session.id,
        live_chat_id: chat.liveChatId,
        direction: 'outbound',
        status: 'queued',
        text: `Hello ${w.account}`,
        template: null,
        attempts: 0,
        locked_until: null,
      });
      expect(message!.next_attempt_at!.getTime()).toBe(w.at.getTime());
      sessionIds.add(session.id);
      messageIds.add(message!.id);

      // What the caller got is what was stored, with the caller's own contact.
      const stored = await db.selectFrom('sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
      expect(stored).toMatchObject({ account: w.account, contact_id: session.contact_id, live_chat_id: chat.liveChatId });
      const contact = await db.selectFrom('contacts').selectAll().where('id', '=', session.contact_id).executeTakeFirstOrThrow();
      expect(contact).toMatchObject({ name: `Person ${w.account}`, phones: [], emails: [w.account] });
      expect((await messageRow(message!.id)).text).toBe(`Hello ${w.account}`);
    }
    expect(sessionIds.size).toBe(20);
    expect(messageIds.size).toBe(20);
  });

  it('puts at most maxBatch initiations in one statement', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1, maxBatch: 5 });

    const results = await Promise.all(Array.from({ length: 11 }, () => writer.write(emailWrite(chat))));

    expect(statements.map((s) => s.accounts.length)).toEqual([1, 5, 5]);
    expect(results.every((r) => r !== undefined)).toBe(true);
  });

  it('runs a second statement while one runs only for a group of at least overlapAt', async () => {
    const chat = await emailChat();
    const { run: record, statements } = recordingRunner();
    let running = 0;
    let mostAtOnce = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const run: QueryRunner = async (query) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      try {
        // The first statement is held until the test has queued what follows it.
        if (statements.length === 0) {
          const rows = record(query);
          await held;
          return await rows;
        }
        return await record(query);
      } finally {
        running -= 1;
      }
    };
    const writer = new InitiationWriter(db, run, { maxInFlight: 3, overlapAt: 4 });

    const first = writer.write(emailWrite(chat));
    const few = Array.from({ length: 3 }, () => writer.write(emailWrite(chat)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Three wait behind the running statement: fewer than overlapAt, so no second statement yet.
    expect(statements.map((s) => s.accounts.length)).toEqual([1]);

    const more = writer.write(emailWrite(chat));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Four wait: they go in a statement of their own beside the running one.
    expect(statements.map((s) => s.accounts.length)).toEqual([1, 4]);
    expect(mostAtOnce).toBe(2);

    release();
    const results = await Promise.all([first, ...few, more]);
    expect(results.every((r) => r?.session.live_chat_id === chat.liveChatId)).toBe(true);
  });

  it('writes a session without a message when none is given', async () => {
    const chat = await emailChat();
    const { run } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const messagesBefore = await countRows('messages');

    const written = await writer.write(emailWrite(chat, { message: null }));

    expect(written?.session).toMatchObject({ live_chat_id: chat.liveChatId, status: 'open' });
    expect(written?.message).toBeNull();
    expect(await countRows('messages')).toBe(messagesBefore);
  });

  it('writes one of two initiations for the same person in one statement; the other gets undefined and leaves no contact', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const account = newAddress();
    const blocker = emailWrite(chat);
    const first = emailWrite(chat, { account, peer: account, contact: { name: 'First', phones: [], emails: [account] } });
    const second = emailWrite(chat, { account, peer: account, contact: { name: 'Second', phones: [], emails: [account] } });
    const [contactsBefore, sessionsBefore, messagesBefore] = [await countRows('contacts'), await countRows('sessions'), await countRows('messages')];

    const [, a, b] = await Promise.all([writer.write(blocker), writer.write(first), writer.write(second)]);

    // Both contenders were in the same statement.
    expect(statements.map((s) => s.accounts)).toEqual([[blocker.account], [account, account]]);
    const written = [a, b].filter((r): r is WrittenInitiation => r !== undefined);
    expect(written).toHaveLength(1);
    expect(written[0]!.session.account).toBe(account);
    // The blocker's and the winner's contacts, sessions and messages; nothing of the loser.
    expect(await countRows('contacts')).toBe(contactsBefore + 2);
    expect(await countRows('sessions')).toBe(sessionsBefore + 2);
    expect(await countRows('messages')).toBe(messagesBefore + 2);
    const open = await db.selectFrom('sessions').select(['id', 'contact_id']).where('live_chat_id', '=', chat.liveChatId).where('account', '=', account).execute();
    expect(open).toEqual([{ id: written[0]!.session.id, contact_id: written[0]!.session.contact_id }]);
    const winnerName = a ? 'First' : 'Second';
    const contacts = await db.selectFrom('contacts').select(['id', 'name']).where(sql<boolean>`${account} = ANY(emails)`).execute();
    expect(contacts).toEqual([{ id: written[0]!.session.contact_id, name: winnerName }]);
  });

  it('does not write an initiation that an open session from an earlier statement holds', async () => {
    const chat = await emailChat();
    const { run } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const account = newAddress();
    const earlier = await writer.write(emailWrite(chat, { account, peer: account }));
    expect(earlier).toBeDefined();
    const contactsBefore = await countRows('contacts');

    expect(await writer.write(emailWrite(chat, { account, peer: account }))).toBeUndefined();
    expect(await countRows('contacts')).toBe(contactsBefore);
  });

  it('does not write an initiation whose operator is not assigned, and writes the others of its statement', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const blocker = emailWrite(chat);
    const before = emailWrite(chat);
    const unassigned = emailWrite(chat, { operatorId: `op-stranger-${unique()}` });
    const after = emailWrite(chat);
    const contactsBefore = await countRows('contacts');

    const [, a, bad, b] = await Promise.all([blocker, before, unassigned, after].map((w) => writer.write(w)));

    expect(statements.map((s) => s.accounts)).toEqual([[blocker.account], [before.account, unassigned.account, after.account]]);
    expect(statements.every((s) => s.outcome === 'ok')).toBe(true);
    expect(bad).toBeUndefined();
    expect(a?.session).toMatchObject({ account: before.account, operator_id: chat.operatorId });
    expect(b?.session).toMatchObject({ account: after.account, operator_id: chat.operatorId });
    expect(a?.message?.text).toBe(`Hello ${before.account}`);
    expect(b?.message?.text).toBe(`Hello ${after.account}`);
    expect(await countRows('contacts')).toBe(contactsBefore + 3);
    expect(await db.selectFrom('sessions').select('id').where('account', '=', unassigned.account).execute()).toEqual([]);
  });

  it('does not write an initiation whose contact does not exist, and writes the others of its statement', async () => {
    const chat = await emailChat();
    const { run } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const missing = emailWrite(chat, { contact: { id: randomUUID() }, addAccountTo: 'emails' });
    const fine = emailWrite(chat);

    const [, gone, written] = await Promise.all([writer.write(emailWrite(chat)), writer.write(missing), writer.write(fine)]);

    expect(gone).toBeUndefined();
    expect(written?.session.account).toBe(fine.account);
    expect(await db.selectFrom('sessions').select('id').where('account', '=', missing.account).execute()).toEqual([]);
  });

  it('fails only the initiation Postgres cannot store (U+0000) and writes the others of its statement', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const blocker = emailWrite(chat);
    const good1 = emailWrite(chat);
    const bad = emailWrite(chat, { message: { text: 'nul \u0000 inside' } });
    const good2 = emailWrite(chat);
    const [contactsBefore, sessionsBefore] = [await countRows('contacts'), await countRows('sessions')];

    const results = await Promise.allSettled([blocker, good1, bad, good2].map((w) => writer.write(w)));

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22P05' });
    const [, a, , b] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    expect(a?.session.account).toBe(good1.account);
    expect(a?.message?.text).toBe(`Hello ${good1.account}`);
    expect(b?.session.account).toBe(good2.account);
    // The group's statement failed, then each of its initiations was tried alone.
    expect(statements[1]).toEqual({ accounts: [good1.account, bad.account, good2.account], outcome: 'error' });
    const alone = statements.slice(2);
    expect(alone).toHaveLength(3);
    expect(alone.every((s) => s.accounts.length === 1)).toBe(true);
    expect(Object.fromEntries(alone.map((s) => [s.accounts[0], s.outcome]))).toEqual({ [good1.account]: 'ok', [bad.account]: 'error', [good2.account]: 'ok' });
    // Nothing of the failed one.
    expect(await countRows('contacts')).toBe(contactsBefore + 3);
    expect(await countRows('sessions')).toBe(sessionsBefore + 3);
  });

  it('tries a failed group one by one no more than maxInFlight at a time', async () => {
    const chat = await emailChat();
    let running = 0;
    let mostAtOnce = 0;
    const inner = createQueryRunner(t.database.handle);
    const run: QueryRunner = async (query) => {
      const input = JSON.parse(query.parameters[0] as string) as unknown[];
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      try {
        // Every group of more than one fails, as if one of them could not be stored.
        if (input.length > 1) throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await inner(query);
      } finally {
        running -= 1;
      }
    };
    const writer = new InitiationWriter(db, run, { maxInFlight: 2 });

    const results = await Promise.all(Array.from({ length: 9 }, () => writer.write(emailWrite(chat))));

    expect(results.every((r) => r?.session.live_chat_id === chat.liveChatId)).toBe(true);
    expect(mostAtOnce).toBeLessThanOrEqual(2);
  });

  it('writes one of two initiations naming the same existing contact on one live chat, and ties each result to its own write', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp');
    const [phoneA, phoneB] = [newPhone(), newPhone()];
    const created = await call(t.app, 'POST', '/contacts', { name: 'Bo', phones: [phoneA, phoneB] });
    expect(created.statusCode, created.body).toBe(201);
    const write = (phone: string, text: string): CreateWrite => ({
      kind: 'create',
      liveChatId: chat.liveChatId,
      channel: 'whatsapp',
      operatorId: chat.operatorId,
      contact: { id: created.data.id as string },
      account: phone,
      addAccountTo: null,
      peer: phone,
      consentKeys: [phone],
      catalogueVersion: null,
      message: { text },
      outbox: UNCLAIMED,
      at: new Date(),
    });
    const messagesBefore = await countRows('messages');

    const written = await writeCreates(db, [write(phoneA, 'for A'), write(phoneB, 'for B')], createQueryRunner(t.database.handle));

    // One open session per contact and live chat: only one is written, with its own account and text.
    expect(written.filter(Boolean)).toHaveLength(1);
    const index = written.findIndex(Boolean);
    const result = written[index]!;
    expect(result.session.account).toBe(index === 0 ? phoneA : phoneB);
    expect(result.message?.text).toBe(index === 0 ? 'for A' : 'for B');
    expect(await countRows('messages')).toBe(messagesBefore + 1);
  });

  it('gives undefined for a lone initiation failing with a foreign-key violation (its contact deleted meanwhile)', async () => {
    const chat = await emailChat();
    const victim = emailWrite(chat);
    const fkViolation = Object.assign(new Error('insert or update on table "sessions" violates foreign key constraint'), { code: '23503' });
    const { run, statements } = recordingRunner({ fail: (accounts) => (accounts.includes(victim.account) ? fkViolation : undefined) });
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const other = emailWrite(chat);

    const [, gone, written] = await Promise.all([writer.write(emailWrite(chat)), writer.write(victim), writer.write(other)]);

    expect(gone).toBeUndefined();
    expect(written?.session.account).toBe(other.account);
    // Failed in its group, then alone.
    expect(statements.filter((s) => s.accounts.includes(victim.account)).map((s) => s.accounts.length)).toEqual([2, 1]);
  });

  it('does not retry one by one when the database is unavailable: every initiation of the group fails', async () => {
    const chat = await emailChat();
    const blocker = emailWrite(chat);
    const unavailable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { run, statements } = recordingRunner({ fail: (accounts) => (accounts.includes(blocker.account) ? undefined : unavailable) });
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });

    const results = await Promise.allSettled([blocker, emailWrite(chat), emailWrite(chat)].map((w) => writer.write(w)));

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBe(unavailable);
    expect((results[2] as PromiseRejectedResult).reason).toBe(unavailable);
    expect(statements.map((s) => s.accounts.length)).toEqual([1, 2]);
  });

  it('never puts two initiations extending the same existing contact in one statement, and both extend it', async () => {
    const [chatA, chatB] = [await liveChatWithOperator(t.app, 'whatsapp'), await liveChatWithOperator(t.app, 'whatsapp')];
    const [known, phoneA, phoneB] = [newPhone(), newPhone(), newPhone()];
    const created = await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: [known] });
    expect(created.statusCode, created.body).toBe(201);
    const contactId = created.data.id as string;
    const extend = (chat: { liveChatId: string; operatorId: string }, phone: string): CreateWrite => ({
      kind: 'create',
      liveChatId: chat.liveChatId,
      channel: 'whatsapp' as ChannelType,
      operatorId: chat.operatorId,
      contact: { id: contactId },
      account: phone,
      addAccountTo: 'phones',
      peer: phone,
      consentKeys: [phone],
      catalogueVersion: null,
      message: { template: { name: 'welcome', language: 'en_US' } },
      outbox: UNCLAIMED,
      at: new Date(),
    });
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const blocker = emailWrite(await emailChat());
    const contactsBefore = await countRows('contacts');

    const [, a, b] = await Promise.all([writer.write(blocker), writer.write(extend(chatA, phoneA)), writer.write(extend(chatB, phoneB))]);

    expect(statements.some((s) => s.accounts.includes(phoneA) && s.accounts.includes(phoneB))).toBe(false);
    expect(statements.every((s) => s.outcome === 'ok')).toBe(true);
    expect(a?.session).toMatchObject({ contact_id: contactId, live_chat_id: chatA.liveChatId, account: phoneA });
    expect(b?.session).toMatchObject({ contact_id: contactId, live_chat_id: chatB.liveChatId, account: phoneB });
    expect(a?.message?.template).toEqual({ name: 'welcome', language: 'en_US' });
    const contact = await db.selectFrom('contacts').selectAll().where('id', '=', contactId).executeTakeFirstOrThrow();
    expect([...contact.phones].sort()).toEqual([known, phoneA, phoneB].sort());
    // Only the blocker's inline contact is new.
    expect(await countRows('contacts')).toBe(contactsBefore + 1);

    // An account the contact already has is not added again.
    const chatC = await liveChatWithOperator(t.app, 'whatsapp');
    const again = await writer.write(extend(chatC, known));
    expect(again?.session.account).toBe(known);
    const after = await db.selectFrom('contacts').select('phones').where('id', '=', contactId).executeTakeFirstOrThrow();
    expect([...after.phones].sort()).toEqual([known, phoneA, phoneB].sort());
  });

  it('extends one existing contact from statements running at once without losing either account', async () => {
    const chats = [await liveChatWithOperator(t.app, 'whatsapp'), await liveChatWithOperator(t.app, 'whatsapp'), await liveChatWithOperator(t.app, 'whatsapp')];
    const created = await call(t.app, 'POST', '/contacts', { name: 'Bo', phones: [] });
    expect(created.statusCode, created.body).toBe(201);
    const contactId = created.data.id as string;
    const phones = chats.map(() => newPhone());
    const { run } = recordingRunner();
    // Each naming the same contact goes in a statement of its own, and those run at once.
    const writer = new InitiationWriter(db, run, { maxInFlight: 3, overlapAt: 1 });

    const results = await Promise.all(
      chats.map((chat, i) =>
        writer.write({
          kind: 'create',
          liveChatId: chat.liveChatId,
          channel: 'whatsapp',
          operatorId: chat.operatorId,
          contact: { id: contactId },
          account: phones[i]!,
          addAccountTo: 'phones',
          peer: phones[i]!,
          consentKeys: [phones[i]!],
          catalogueVersion: null,
          message: null,
          outbox: UNCLAIMED,
          at: new Date(),
        }),
      ),
    );

    expect(results.map((r) => r?.session.account)).toEqual(phones);
    const contact = await db.selectFrom('contacts').select('phones').where('id', '=', contactId).executeTakeFirstOrThrow();
    expect([...contact.phones].sort()).toEqual([...phones].sort());
  });

  it('queues the message with the outbox entry delivery gave: already claimed, or for any dispatcher', async () => {
    const chat = await emailChat();
    const { run, statements } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const claimed = (leaseMs: number): OutboxEntry => ({ lockedUntil: new Date(Date.now() + leaseMs), attempts: 1 });
    const short = emailWrite(chat, { outbox: claimed(45_000) });
    const long = emailWrite(chat, { outbox: claimed(90_000) });
    const none = emailWrite(chat, { outbox: UNCLAIMED });

    const [, s, l, n] = await Promise.all([emailWrite(chat), short, long, none].map((w) => writer.write(w)));

    expect(statements.map((st) => st.accounts.length)).toEqual([1, 3]);
    for (const [written, write] of [
      [s, short],
      [l, long],
    ] as const) {
      const row = await messageRow(written!.message!.id);
      expect(row.attempts).toBe(1);
      expect(row.status).toBe('queued');
      // The lease as given, exactly, so that it can guard the outcome as the claim's identity.
      expect(row.locked_until!.getTime()).toBe(write.outbox.lockedUntil!.getTime());
      // What the caller got is the stored claim, exactly.
      expect(written!.message!.locked_until!.getTime()).toBe(row.locked_until!.getTime());
      expect(written!.message!.attempts).toBe(1);
    }
    const unclaimed = await messageRow(n!.message!.id);
    expect(unclaimed).toMatchObject({ locked_until: null, attempts: 0, status: 'queued' });
    expect(n!.message).toMatchObject({ locked_until: null, attempts: 0 });
  });

  it('stores a lone UTF-16 surrogate as U+FFFD, and keeps a proper pair', async () => {
    const chat = await emailChat();
    const { run } = recordingRunner();
    const writer = new InitiationWriter(db, run, { maxInFlight: 1 });
    const write = emailWrite(chat, {
      contact: { name: 'Ann \uDC00', phones: [], emails: [] },
      message: { text: 'high \uD800 low \uDC00 pair \uD83D\uDE00 end\uD83D' },
    });
    (write.contact as { emails: string[] }).emails = [write.account];

    const written = await writer.write(write);

    const expected = 'high \uFFFD low \uFFFD pair \uD83D\uDE00 end\uFFFD';
    expect(written?.message?.text).toBe(expected);
    expect((await messageRow(written!.message!.id)).text).toBe(expected);
    const contact = await db.selectFrom('contacts').select('name').where('id', '=', written!.session.contact_id).executeTakeFirstOrThrow();
    expect(contact.name).toBe('Ann \uFFFD');
  });
});
