import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { startWhatsAppStandIn } from '../support/whatsapp-stand-in.js';
import { postWhatsApp, whatsappChange, whatsappNotification, whatsappStatus, whatsappText } from '../webhooks/providers.js';

// Every change a caller cares about is one event, written with the change, whose data is the
// object as the API shows it at that moment.

let t: TestApp;
let whatsapp: HttpStandIn;

beforeAll(async () => {
  whatsapp = await startWhatsAppStandIn();
  t = await createTestApp({
    config: { dispatcherEnabled: true, whatsappApiBaseUrl: whatsapp.url, delivery: { maxAttempts: 2, retryBaseMs: 20, retryMaxMs: 50, providerTimeoutMs: 2_000 } },
  });
});
afterAll(async () => {
  await t.close();
  await whatsapp.close();
});

interface LoggedEvent {
  id: string;
  type: string;
  liveChatId: string;
  occurredAt: string;
  data: { session?: Record<string, unknown>; message?: Record<string, unknown> };
}

/** Every event of the live chat in the log, oldest first. */
async function eventsOf(liveChatId: string): Promise<LoggedEvent[]> {
  const items: LoggedEvent[] = [];
  let after = '';
  for (;;) {
    const page = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&limit=500${after ? `&after=${after}` : ''}`);
    expect(page.statusCode, page.body).toBe(200);
    items.push(...page.data.items);
    if (page.data.items.length === 0) return items;
    after = page.data.nextCursor;
  }
}

const typesOf = (events: LoggedEvent[]) => events.map((e) => e.type);
const template = { name: 'order_update', language: 'en_US', parameters: ['Asha'] };

describe('events written with the change', () => {
  it('tells of a session’s life, each change once, with the session as the API showed it then', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Asha' }, account: newPhone() });
    expect(created.statusCode, created.body).toBe(201);
    const other = 'op-second';
    await call(t.app, 'PUT', `/live-chats/${liveChatId}/operators/${other}`);
    const assigned = await call(t.app, 'POST', `/sessions/${created.data.id}/assign`, { operatorId: other });
    const closed = await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {});
    await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {}); // closing again changes nothing
    const reopened = await call(t.app, 'POST', `/sessions/${created.data.id}/reopen`, { operatorId });

    const events = await eventsOf(liveChatId);
    expect(typesOf(events)).toEqual(['session.created', 'session.assigned', 'session.closed', 'session.reopened']);
    expect(events.map((e) => e.data.session)).toEqual([created.data, assigned.data, closed.data, reopened.data]);
    expect(events.every((e) => e.liveChatId === liveChatId)).toBe(true);
  });

  it('tells of a message sent, delivered and read, with the message and its session as they were', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ben' }, account: newPhone(), message: { template } });
    const sent = await waitUntil(async () => (await call(t.app, 'GET', `/sessions/${created.data.id}/messages`)).data.items.find((m: { status: string }) => m.status === 'sent'));
    await waitUntil(async () => (await eventsOf(liveChatId)).length === 2 || undefined, { what: 'the message.sent event' });
    const statuses = [whatsappStatus(sent.providerMessageId, 'delivered'), whatsappStatus(sent.providerMessageId, 'read'), whatsappStatus(sent.providerMessageId, 'delivered')];
    for (const status of statuses) await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ statuses: [status] })]));
    const read = (await call(t.app, 'GET', `/sessions/${created.data.id}/messages`)).data.items[0];

    const events = await eventsOf(liveChatId);
    // The late "delivered" moved nothing, so it is no event.
    expect(typesOf(events)).toEqual(['session.created', 'message.sent', 'message.delivered', 'message.read']);
    expect(events[1]!.data).toEqual({ message: sent, session: created.data });
    expect(events[3]!.data).toEqual({ message: read, session: created.data });
    expect(events[2]!.data.message).toMatchObject({ id: sent.id, status: 'delivered' });
  });

  it('tells of a message that failed for good', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    whatsapp.replyNext({ status: 400, body: { error: { message: 'Recipient not on WhatsApp', type: 'OAuthException', code: 131026 } } });
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Cy' }, account: newPhone(), message: { template } });
    const failed = await waitUntil(async () => (await call(t.app, 'GET', `/sessions/${created.data.id}/messages`)).data.items.find((m: { status: string }) => m.status === 'failed'));
    const events = await waitUntil(async () => {
      const all = await eventsOf(liveChatId);
      return all.length === 2 ? all : undefined;
    });
    expect(typesOf(events)).toEqual(['session.created', 'message.failed']);
    expect(events[1]!.data.message).toEqual(failed);
    expect(failed.error).toMatchObject({ code: 'whatsapp_131026' });
  });

  it('tells of a message received, and of the session it opened in the queue', async () => {
    const { liveChatId } = await liveChatWithOperator(t.app, 'whatsapp');
    const phone = newPhone();
    await postWhatsApp(t.app, liveChatId, whatsappNotification([whatsappChange({ messages: [whatsappText(phone.slice(1), 'Hello?')] })]));
    const [queued] = (await call(t.app, 'GET', `/sessions?liveChatId=${liveChatId}&unassigned=true`)).data.items;
    const [received] = (await call(t.app, 'GET', `/sessions/${queued.id}/messages`)).data.items;

    const events = await eventsOf(liveChatId);
    expect(typesOf(events)).toEqual(['session.created', 'message.received']);
    expect(events[0]!.data).toEqual({ session: queued });
    expect(events[1]!.data).toEqual({ message: received, session: queued });
  });

  it('writes no event for a refused request', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const account = newPhone();
    await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Di' }, account });
    expect((await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Di' }, account })).statusCode).toBe(409);
    expect(typesOf(await eventsOf(liveChatId))).toEqual(['session.created']);
  });
});

describe('ids of what an initiation writes', () => {
  /** The Unix milliseconds a version 7 UUID carries (its first 48 bits); fails for any other version. */
  const msOf = (id: string): number => {
    expect(id, id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    return parseInt(id.replaceAll('-', '').slice(0, 12), 16);
  };

  it('are time-ordered UUIDs (version 7) for contacts, sessions, messages and events, made when they are written', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const before = Date.now();
    const contact = await call(t.app, 'POST', '/contacts', { name: 'Ordered Id' });
    expect(contact.statusCode, contact.body).toBe(201);
    const first = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contactId: contact.data.id, account: newPhone(), message: { template } });
    expect(first.statusCode, first.body).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ordered Inline' }, account: newPhone(), message: { template } });
    expect(second.statusCode, second.body).toBe(201);
    await waitUntil(async () => (await eventsOf(liveChatId)).length === 4 || undefined, { what: 'both sessions’ message.sent events' });
    const after = Date.now();

    const messages = await Promise.all([first, second].map(async (s) => (await call(t.app, 'GET', `/sessions/${s.data.id}/messages`)).data.items[0].id as string));
    const ids = [contact.data.id, first.data.id, second.data.contactId, second.data.id, ...messages, ...(await eventsOf(liveChatId)).map((e) => e.id)];
    for (const id of ids) {
      const ms = msOf(id);
      expect(ms, id).toBeGreaterThanOrEqual(before - 1_000);
      expect(ms, id).toBeLessThanOrEqual(after + 1_000);
    }
    // Written 5 ms apart or more, the second session's id sorts after the first's.
    expect(msOf(second.data.id)).toBeGreaterThan(msOf(first.data.id));
    expect(second.data.id > first.data.id).toBe(true);
  });

  it('carry the millisecond they were made in, truncated, never the next one', async () => {
    // Each id is made before the clock is read beside it; a rounded time would name the next
    // millisecond for about half of them. (On Postgres; PGlite's clock ticks in whole
    // milliseconds, where the two agree.)
    const { rows } = await sql<{ id: string; after: string }>`
      SELECT uuid_v7()::text AS id, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS after
      FROM generate_series(1, 500)
    `.execute(t.database.handle.db);
    for (const row of rows) expect(msOf(row.id), row.id).toBeLessThanOrEqual(Number(row.after));
  });
});

describe.skipIf(!process.env.DATABASE_URL)('reading the log while sessions are created at once (Postgres)', () => {
  it('gives a reader looping on nextCursor each of 50 concurrent sessions’ events exactly once', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    const seen: string[] = [];
    let done = false;
    const reader = (async () => {
      let after = '';
      // Reads until every session was created and the log has nothing more for it.
      for (;;) {
        const page = await call(t.app, 'GET', `/events?liveChatId=${liveChatId}&limit=7${after ? `&after=${after}` : ''}`);
        seen.push(...page.data.items.map((e: LoggedEvent) => (e.data.session as { id: string }).id));
        after = page.data.nextCursor;
        if (page.data.items.length === 0 && done) return;
      }
    })();
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: `P${i}`, emails: [`p${i}@concurrent.example`] } })),
    );
    expect(created.every((r) => r.statusCode === 201)).toBe(true);
    // Once every session exists, a reader still only needs to catch up.
    await waitUntil(() => seen.length >= 50 || undefined, { what: 'the reader to see 50 events' });
    done = true;
    await reader;
    expect(seen).toHaveLength(50);
    expect(new Set(seen)).toEqual(new Set(created.map((r) => r.data.id)));
  });
});
