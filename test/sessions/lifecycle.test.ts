import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { type ChannelKind, liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

const HOUR = 60 * 60 * 1000;
const template = { name: 'follow_up', language: 'de' };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const db = () => t.database.handle.db;

/** A live chat with an open session (a template first message on WhatsApp, none elsewhere). */
async function openSession(kind: ChannelKind = 'email', overrides: Record<string, unknown> = {}) {
  const chat = await liveChatWithOperator(t.app, kind);
  const account = kind === 'email' ? `p${randomUUID().slice(0, 8)}@example.com` : newPhone();
  const message = kind === 'whatsapp' ? { message: { template } } : {};
  const created = await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann' }, account, ...message, ...overrides });
  expect(created.statusCode, created.body).toBe(201);
  return { ...chat, session: created.data, account };
}

async function assignAnother(liveChatId: string): Promise<string> {
  const operatorId = `op-${randomUUID().slice(0, 8)}`;
  expect((await call(t.app, 'PUT', `/live-chats/${liveChatId}/operators/${operatorId}`)).statusCode).toBe(204);
  return operatorId;
}

describe('GET /sessions/{id}', () => {
  it('returns the session', async () => {
    const { session } = await openSession();
    const fetched = await call(t.app, 'GET', `/sessions/${session.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.data).toEqual(session);
  });

  it('answers 404 session_not_found for an unknown id and 400 for a malformed one', async () => {
    expectProblem(await call(t.app, 'GET', `/sessions/${randomUUID()}`), 404, 'session_not_found');
    expectFieldError(await call(t.app, 'GET', '/sessions/not-a-uuid'), '/id', 'invalid_uuid');
  });
});

describe('GET /sessions', () => {
  it('lists newest first and pages through every session with the cursor', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: `P${i}` }, account: `p${i}@list.example` });
      ids.push(created.data.id);
    }
    const all = await call(t.app, 'GET', `/sessions?liveChatId=${chat.liveChatId}`);
    expect(all.data.items.map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
    expect(all.data.nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: JsonResponse = await call(t.app, 'GET', `/sessions?liveChatId=${chat.liveChatId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode, page.body).toBe(200);
      expect(page.data.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.items.map((s: { id: string }) => s.id));
      cursor = page.data.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it('pages through sessions created within the same millisecond without skipping any', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: `Q${i}` }, account: `q${i}@list.example` });
      ids.push(created.data.id);
    }
    // Same millisecond, different microseconds: what Postgres stores for a busy second.
    for (const [i, id] of ids.entries()) {
      await db().updateTable('sessions').set({ created_at: sql`'2030-01-01T00:00:00.123Z'::timestamptz + ${i} * interval '1 microsecond'` }).where('id', '=', id).execute();
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JsonResponse = await call(t.app, 'GET', `/sessions?liveChatId=${chat.liveChatId}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode, page.body).toBe(200);
      seen.push(...page.data.items.map((s: { id: string }) => s.id));
      cursor = page.data.nextCursor;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([...ids].reverse());
  });

  it('filters by live chat, status, operator, contact and account', async () => {
    const a = await openSession('whatsapp');
    const b = await openSession('email');
    const otherOperator = await assignAnother(b.liveChatId);
    const second = await call(t.app, 'POST', '/sessions', { liveChatId: b.liveChatId, operatorId: otherOperator, contact: { name: 'Bea' }, account: 'bea@filter.example' });
    expect(second.statusCode).toBe(201);
    await call(t.app, 'POST', `/sessions/${b.session.id}/close`, {});

    const ids = async (query: string) => (await call(t.app, 'GET', `/sessions?${query}`)).data.items.map((s: { id: string }) => s.id);
    expect(await ids(`liveChatId=${b.liveChatId}`)).toEqual([second.data.id, b.session.id]);
    expect(await ids(`liveChatId=${b.liveChatId}&status=open`)).toEqual([second.data.id]);
    expect(await ids(`liveChatId=${b.liveChatId}&status=closed`)).toEqual([b.session.id]);
    expect(await ids(`operatorId=${otherOperator}`)).toEqual([second.data.id]);
    expect(await ids(`contactId=${a.session.contactId}`)).toEqual([a.session.id]);
    const formatted = `${a.account.slice(0, 3)} ${a.account.slice(3, 6)} ${a.account.slice(6)}`;
    expect(await ids(`account=${encodeURIComponent(formatted)}`)).toEqual([a.session.id]);
    expect(await ids(`account=${encodeURIComponent('bea@FILTER.Example')}`)).toEqual([second.data.id]);
    expect(await ids(`liveChatId=${a.liveChatId}&status=closed`)).toEqual([]);
  });

  it('refuses a malformed cursor, limit, status or account with 400', async () => {
    expectFieldError(await call(t.app, 'GET', '/sessions?cursor=not-a-cursor'), '/cursor', 'invalid_cursor');
    const forged = Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url');
    expectFieldError(await call(t.app, 'GET', `/sessions?cursor=${forged}`), '/cursor', 'invalid_cursor');
    expectFieldError(await call(t.app, 'GET', '/sessions?limit=0'), '/limit', 'out_of_range');
    expectFieldError(await call(t.app, 'GET', '/sessions?limit=101'), '/limit', 'out_of_range');
    expectFieldError(await call(t.app, 'GET', '/sessions?status=pending'), '/status', 'invalid_value');
    expectFieldError(await call(t.app, 'GET', '/sessions?account=4915123456789'), '/account', 'invalid_phone_number');
  });

  it('refuses a forged cursor at a time Postgres has not (year 0000, month 13) with 400 invalid_cursor, not a 500', async () => {
    const cursor = (createdAt: string) => Buffer.from(JSON.stringify([createdAt, randomUUID()])).toString('base64url');
    for (const createdAt of ['0000-01-01T00:00:00Z', '0000-12-31T23:59:59.999999Z', '2026-13-01T00:00:00Z']) {
      for (const path of ['/sessions', '/contacts']) {
        expectFieldError(await call(t.app, 'GET', `${path}?cursor=${cursor(createdAt)}`), '/cursor', 'invalid_cursor');
      }
    }
    // The first year Postgres has is a position like any other: nothing before it.
    const first = await call(t.app, 'GET', `/sessions?cursor=${cursor('0001-01-01T00:00:00Z')}`);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.data).toEqual({ items: [], nextCursor: null });
  });

  it('returns 20 sessions by default', async () => {
    const chat = await liveChatWithOperator(t.app, 'email');
    for (let i = 0; i < 21; i++) {
      await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: `R${i}` }, account: `r${i}@list.example` });
    }
    const page = await call(t.app, 'GET', `/sessions?liveChatId=${chat.liveChatId}`);
    expect(page.data.items).toHaveLength(20);
    expect(page.data.nextCursor).toEqual(expect.any(String));
  });
});

describe('POST /sessions/{id}/close', () => {
  it('closes an open session, and closing it again changes nothing', async () => {
    const { session } = await openSession();
    t.clock.advance(1000);
    const closed = await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.data).toMatchObject({ id: session.id, status: 'closed', closedAt: expect.any(String) });
    t.clock.advance(1000);
    const again = await call(t.app, 'POST', `/sessions/${session.id}/close`);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.data).toEqual(closed.data);
  });

  it('refuses an operator who is not assigned, and an unknown session', async () => {
    const { session } = await openSession();
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/close`, { operatorId: 'op-stranger' }), 403, 'operator_not_assigned');
    expect((await call(t.app, 'GET', `/sessions/${session.id}`)).data.status).toBe('open');
    expectProblem(await call(t.app, 'POST', `/sessions/${randomUUID()}/close`, {}), 404, 'session_not_found');
  });

  it('accepts an assigned operator', async () => {
    const { session, operatorId } = await openSession();
    const closed = await call(t.app, 'POST', `/sessions/${session.id}/close`, { operatorId });
    expect(closed.data.status).toBe('closed');
  });
});

describe('POST /sessions/{id}/reopen', () => {
  it('opens a closed session again, assigned to the given operator', async () => {
    const { session, liveChatId } = await openSession();
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    const other = await assignAnother(liveChatId);
    const reopened = await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId: other });
    expect(reopened.statusCode, reopened.body).toBe(200);
    expect(reopened.data).toMatchObject({ id: session.id, status: 'open', operatorId: other, closedAt: null });
    expect((await call(t.app, 'GET', `/sessions/${session.id}`)).data).toEqual(reopened.data);
  });

  it('answers 409 session_already_open with its own id when the session is open', async () => {
    const { session, operatorId } = await openSession();
    const response = await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId });
    expect(expectProblem(response, 409, 'session_already_open').existingSessionId).toBe(session.id);
  });

  it('answers 409 naming the other open session with the same person', async () => {
    const { session, liveChatId, operatorId, account } = await openSession();
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    const newer = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account });
    expect(newer.statusCode).toBe(201);
    const response = await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId });
    expect(expectProblem(response, 409, 'session_already_open').existingSessionId).toBe(newer.data.id);
    expect((await call(t.app, 'GET', `/sessions/${session.id}`)).data.status).toBe('closed');
  });

  it('refuses an operator who is not assigned, and an unknown session', async () => {
    const { session } = await openSession();
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId: 'op-stranger' }), 403, 'operator_not_assigned');
    expectProblem(await call(t.app, 'POST', `/sessions/${randomUUID()}/reopen`, { operatorId: 'op-1' }), 404, 'session_not_found');
    expectFieldError(await call(t.app, 'POST', `/sessions/${session.id}/reopen`, {}), '/operatorId', 'required');
  });

  it('queues the message given with the reopening', async () => {
    const { session, operatorId } = await openSession('email', { message: { text: 'First' } });
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    t.clock.advance(1000);
    const reopened = await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId, message: { text: 'Back again' } });
    expect(reopened.statusCode, reopened.body).toBe(200);
    const messages = await call(t.app, 'GET', `/sessions/${session.id}/messages`);
    expect(messages.data.items.map((m: { text: string; status: string }) => [m.text, m.status])).toEqual([
      ['First', 'queued'],
      ['Back again', 'queued'],
    ]);
  });

  it('applies the WhatsApp 24-hour rule to the reopening message', async () => {
    const { session, operatorId, liveChatId, account } = await openSession('whatsapp');
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId, message: { text: 'Hi' } }), 422, 'whatsapp_template_required');
    expect((await call(t.app, 'GET', `/sessions/${session.id}`)).data.status).toBe('closed');
    await personWrote(db(), liveChatId, { externalUserId: account.slice(1) }, t.clock.now());
    const reopened = await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId, message: { text: 'Hi' } });
    expect(reopened.statusCode, reopened.body).toBe(200);
  });

  it('refuses a template on an inbox', async () => {
    const { session, operatorId } = await openSession('email');
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/reopen`, { operatorId, message: { template } }), 422, 'template_not_supported');
  });

  it('applies the Telegram prior-contact rule', async () => {
    const chat = await liveChatWithOperator(t.app, 'telegram');
    await personWrote(db(), chat.liveChatId, { externalUserId: '7001', username: 'ann_7001' }, t.clock.now());
    const created = await call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Ann' }, account: '@ann_7001' });
    expect(created.statusCode, created.body).toBe(201);
    await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {});
    // The person is no longer known to the bot (e.g. the record was purged).
    await db().deleteFrom('channel_contacts').where('live_chat_id', '=', chat.liveChatId).execute();
    const response = await call(t.app, 'POST', `/sessions/${created.data.id}/reopen`, { operatorId: chat.operatorId });
    expectProblem(response, 422, 'telegram_no_prior_contact');
  });
});

describe('POST /sessions/{id}/messages', () => {
  it('queues a message on an open session and answers 202', async () => {
    const { session, operatorId } = await openSession();
    const sent = await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'How can I help?' });
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.data).toMatchObject({
      id: expect.any(String),
      sessionId: session.id,
      direction: 'outbound',
      text: 'How can I help?',
      template: null,
      status: 'queued',
      attempts: 0,
      error: null,
      providerMessageId: null,
    });
    const listed = await call(t.app, 'GET', `/sessions/${session.id}/messages`);
    expect(listed.data.items).toEqual([sent.data]);
  });

  it('lists a session’s messages oldest first, also when they share a millisecond', async () => {
    const { session, operatorId } = await openSession();
    const texts = ['one', 'two', 'three', 'four', 'five', 'six'];
    for (const text of texts) {
      const sent = await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text });
      expect(sent.statusCode, sent.body).toBe(202);
    }
    const listed = await call(t.app, 'GET', `/sessions/${session.id}/messages`);
    expect(listed.data.items.map((m: { text: string }) => m.text)).toEqual(texts);
  });

  it('pages through a session’s messages oldest first, 50 by default, without gaps or repeats', async () => {
    const { session, operatorId } = await openSession();
    const texts = Array.from({ length: 53 }, (_, i) => `message ${i}`);
    for (const text of texts) expect((await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text })).statusCode).toBe(202);

    const first = await call(t.app, 'GET', `/sessions/${session.id}/messages`);
    expect(first.data.items).toHaveLength(50);
    expect(first.data.nextCursor).toEqual(expect.any(String));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JsonResponse = await call(t.app, 'GET', `/sessions/${session.id}/messages?limit=20${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode, page.body).toBe(200);
      seen.push(...page.data.items.map((m: { text: string }) => m.text));
      cursor = page.data.nextCursor;
    } while (cursor);
    expect(seen).toEqual(texts);
  });

  it('refuses a cursor it did not issue and a limit out of range with 400', async () => {
    const { session } = await openSession();
    const forged = Buffer.from(JSON.stringify(['not', 'a seq'])).toString('base64url');
    expectFieldError(await call(t.app, 'GET', `/sessions/${session.id}/messages?cursor=${forged}`), '/cursor', 'invalid_cursor');
    expectFieldError(await call(t.app, 'GET', `/sessions/${session.id}/messages?limit=201`), '/limit', 'out_of_range');
  });

  it('answers 409 session_not_open on a closed session', async () => {
    const { session, operatorId } = await openSession();
    await call(t.app, 'POST', `/sessions/${session.id}/close`, {});
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'Hello?' }), 409, 'session_not_open');
  });

  it('answers 403 operator_not_assigned for an operator not on the live chat', async () => {
    const { session } = await openSession();
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId: 'op-stranger', text: 'Hi' }), 403, 'operator_not_assigned');
  });

  it('answers 404 for an unknown session, on sending and on listing', async () => {
    expectProblem(await call(t.app, 'POST', `/sessions/${randomUUID()}/messages`, { operatorId: 'op-1', text: 'Hi' }), 404, 'session_not_found');
    expectProblem(await call(t.app, 'GET', `/sessions/${randomUUID()}/messages`), 404, 'session_not_found');
  });

  it('applies the WhatsApp 24-hour rule: a template always, free text only within the window', async () => {
    const { session, operatorId, liveChatId, account } = await openSession('whatsapp');
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'Hi' }), 422, 'whatsapp_template_required');
    expect((await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, template })).statusCode).toBe(202);
    await personWrote(db(), liveChatId, { externalUserId: account.slice(1) }, t.clock.now());
    t.clock.advance(23 * HOUR);
    expect((await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'Hi' })).statusCode).toBe(202);
    t.clock.advance(2 * HOUR);
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'Still there?' }), 422, 'whatsapp_template_required');
  });

  it('refuses a template off WhatsApp, and a body with neither or both of text and template', async () => {
    const { session, operatorId } = await openSession('email');
    expectProblem(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, template }), 422, 'template_not_supported');
    expectFieldError(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId }), '', 'message_content_required');
    expectFieldError(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: 'a', template }), '', 'message_content_ambiguous');
    expectFieldError(await call(t.app, 'POST', `/sessions/${session.id}/messages`, { operatorId, text: '' }), '/text', 'too_short');
  });
});
