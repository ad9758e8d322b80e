import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { App } from '../../src/app.js';
import { TemplateService } from '../../src/templates/service.js';
import { type TestApp, call, createTestApp, startSecondReplica } from '../support/app.js';
import { liveChatWithOperator, newPhone } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';
import { graphTemplate, startWhatsAppStandIn, whatsAppError } from '../support/whatsapp-stand-in.js';
import { postWhatsApp } from '../webhooks/providers.js';

const WABA = '102290129340398';
const ORDER_UPDATE = graphTemplate('order_update', {
  body: 'Hi {{1}}, order {{2}} ships today',
  header: { format: 'IMAGE' },
  buttons: [
    { type: 'URL', text: 'Track', url: 'https://shop.example/t/{{1}}' },
    { type: 'QUICK_REPLY', text: 'Thanks' },
  ],
});
const WELCOME = graphTemplate('welcome', { body: 'Welcome, {{1}}!', language: 'de' });
const PROMO = graphTemplate('promo', { status: 'PENDING', category: 'MARKETING' });

describe('the WhatsApp template catalogue', () => {
  let t: TestApp;
  let whatsapp: HttpStandIn;
  const catalogues = new Map<string, unknown[][]>();

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn({ catalogues });
    t = await createTestApp({ config: { whatsappApiBaseUrl: whatsapp.url } });
  });
  afterAll(async () => {
    await t.close();
    await whatsapp.close();
  });
  beforeEach(() => {
    whatsapp.reset();
    catalogues.set(WABA, [[ORDER_UPDATE, WELCOME], [PROMO]]);
  });

  const whatsAppChat = () => liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: WABA });

  it('syncs every page, following paging.next, and lists what each template takes', async () => {
    const chat = await whatsAppChat();
    const synced = await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`);
    expect(synced.statusCode, synced.body).toBe(200);
    expect(synced.data).toEqual({ synced: 3 });
    expect(whatsapp.requests.map((r) => [r.method, r.path, r.headers.authorization])).toEqual([
      ['GET', `/${WABA}/message_templates?limit=100`, 'Bearer EAAG-test-access-token'],
      ['GET', `/${WABA}/message_templates?limit=100&after=1`, 'Bearer EAAG-test-access-token'],
    ]);

    const listed = await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates`);
    expect(listed.data).toEqual({
      items: [
        {
          name: 'order_update',
          language: 'en_US',
          status: 'APPROVED',
          category: 'UTILITY',
          bodyParameters: 2,
          header: { format: 'IMAGE' },
          buttons: [
            { index: 0, type: 'URL' },
            { index: 1, type: 'QUICK_REPLY' },
          ],
        },
        { name: 'promo', language: 'en_US', status: 'PENDING', category: 'MARKETING', bodyParameters: 0, header: null, buttons: [] },
        { name: 'welcome', language: 'de', status: 'APPROVED', category: 'UTILITY', bodyParameters: 1, header: null, buttons: [] },
      ],
      nextCursor: null,
    });
    const approved = await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates?status=APPROVED&name=welcome`);
    expect(approved.data.items.map((i: { name: string }) => i.name)).toEqual(['welcome']);
    const first = await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates?limit=2`);
    expect(first.data.items).toHaveLength(2);
    const rest = await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates?limit=2&cursor=${first.data.nextCursor}`);
    expect(rest.data).toMatchObject({ items: [{ name: 'welcome' }], nextCursor: null });
  });

  it('keeps the previous catalogue when WhatsApp refuses, fails on a later page, or pages elsewhere', async () => {
    const chat = await whatsAppChat();
    expect((await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`)).data).toEqual({ synced: 3 });
    const before = (await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates`)).data;

    whatsapp.replyNext(whatsAppError(190, 'Error validating access token: Session has expired.', 401));
    const refused = await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`);
    expectProblem(refused, 502, 'provider_error');
    expect(refused.data.detail).toContain('Session has expired');

    catalogues.set(WABA, [[WELCOME], [PROMO]]);
    whatsapp.replyNext((request) => ({ status: 200, body: { data: [WELCOME], paging: { next: `${whatsapp.url}${request.path}&after=1` } } }), whatsAppError(2, 'Service temporarily unavailable', 503));
    expectProblem(await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`), 502, 'provider_error');

    whatsapp.replyNext({ status: 200, body: { data: [WELCOME], paging: { next: 'https://graph.evil.example/v21.0/x/message_templates?after=1' } } });
    const elsewhere = await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`);
    expectProblem(elsewhere, 502, 'provider_error');
    expect(whatsapp.requests.some((r) => r.path.includes('evil'))).toBe(false);

    expect((await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates`)).data).toEqual(before);
  });

  it('syncs only WhatsApp live chats with a business account, for admins', async () => {
    const telegram = await liveChatWithOperator(t.app, 'telegram');
    expectProblem(await call(t.app, 'POST', `/live-chats/${telegram.liveChatId}/templates/sync`), 422, 'template_not_supported');
    const without = await liveChatWithOperator(t.app, 'whatsapp');
    expectProblem(await call(t.app, 'POST', `/live-chats/${without.liveChatId}/templates/sync`), 422, 'business_account_required');
    expectProblem(await call(t.app, 'POST', `/live-chats/${crypto.randomUUID()}/templates/sync`), 404, 'live_chat_not_found');
    const key = await call(t.app, 'POST', '/api-keys', { name: 'crm', scopes: ['sessions'] });
    const chat = await whatsAppChat();
    expectProblem(await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`, undefined, { key: key.data.key }), 403, 'forbidden');
    expect((await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates`, undefined, { key: key.data.key })).statusCode).toBe(200);
  });

  it('syncs each due catalogue in one replica only', async () => {
    const accounts = ['200000000000001', '200000000000002', '200000000000003'];
    for (const account of accounts) catalogues.set(account, [[WELCOME]]);
    const chats = await Promise.all(accounts.map((businessAccountId) => liveChatWithOperator(t.app, 'whatsapp', { businessAccountId })));
    const replicas = [0, 1].map(() => new TemplateService(t.database.handle.db, t.app.services.liveChats, { whatsappApiBaseUrl: whatsapp.url, timeoutMs: 2_000, syncIntervalMs: 60_000 }));
    const failures: unknown[] = [];

    await Promise.all(replicas.map((replica) => replica.syncDue((_id, error) => failures.push(error))));

    expect(failures).toEqual([]);
    for (const account of accounts) expect(whatsapp.requests.filter((r) => r.path.startsWith(`/${account}/`))).toHaveLength(1);
    for (const chat of chats) expect((await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates`)).data.items).toHaveLength(1);
    // Synced now: not due again until the interval has passed.
    whatsapp.reset();
    await Promise.all(replicas.map((replica) => replica.syncDue(() => {})));
    expect(whatsapp.requests.filter((r) => accounts.some((account) => r.path.startsWith(`/${account}/`)))).toEqual([]);
  });
});

describe('check 6 across replicas', () => {
  let t: TestApp;
  let replica: Awaited<ReturnType<typeof startSecondReplica>>;
  let second: App;
  let whatsapp: HttpStandIn;
  const catalogues = new Map<string, unknown[][]>([[WABA, [[graphTemplate('welcome', { body: 'Welcome, {{1}}!' })]]]]);

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn({ catalogues });
    t = await createTestApp({ config: { whatsappApiBaseUrl: whatsapp.url } });
    replica = await startSecondReplica(t, { whatsappApiBaseUrl: whatsapp.url });
    second = replica.app;
  });
  afterAll(async () => {
    await replica.close();
    await t.close();
    await whatsapp.close();
  });

  it('refuses the next initiation with a template a status webhook disabled, in the other replica too', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: WABA });
    expect((await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`)).statusCode).toBe(200);
    const initiate = (app: App) =>
      call(app, 'POST', '/sessions', {
        liveChatId: chat.liveChatId,
        operatorId: chat.operatorId,
        contact: { name: 'Ann', phones: [newPhone()] },
        message: { template: { name: 'welcome', language: 'en_US', parameters: ['Ann'] } },
      });
    // Both replicas have checked the template against their copy of the catalogue.
    expect((await initiate(t.app)).statusCode).toBe(201);
    expect((await initiate(second)).statusCode).toBe(201);

    const disabled = {
      object: 'whatsapp_business_account',
      entry: [{ id: WABA, time: 1739321024, changes: [{ field: 'message_template_status_update', value: { event: 'DISABLED', message_template_id: 1234, message_template_name: 'welcome', message_template_language: 'en_US', reason: 'INCORRECT_CATEGORY' } }] }],
    };
    expect((await postWhatsApp(t.app, chat.liveChatId, disabled)).statusCode).toBe(200);

    const here = await initiate(t.app);
    expectProblem(here, 422, 'template_not_approved');
    expect(here.data.detail).toBe('Template welcome (en_US) is DISABLED; only APPROVED templates can be sent.');
    // The other replica heard nothing of the webhook, yet refuses too: its write found the catalogue changed.
    expectProblem(await initiate(second), 422, 'template_not_approved');
    const listed = await call(second, 'GET', `/live-chats/${chat.liveChatId}/templates?name=welcome`);
    expect(listed.data.items[0].status).toBe('DISABLED');

    // Approved again: accepted at once, there and here (a refusal is never made on a cached copy alone).
    await postWhatsApp(t.app, chat.liveChatId, { ...disabled, entry: [{ ...disabled.entry[0]!, changes: [{ field: 'message_template_status_update', value: { ...disabled.entry[0]!.changes[0]!.value, event: 'APPROVED' } }] }] });
    expect((await initiate(second)).statusCode).toBe(201);
    expect((await initiate(t.app)).statusCode).toBe(201);
  });

  it('ignores a status update of another business account', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: WABA });
    await call(t.app, 'POST', `/live-chats/${chat.liveChatId}/templates/sync`);
    const foreign = {
      object: 'whatsapp_business_account',
      entry: [{ id: '999999999', changes: [{ field: 'message_template_status_update', value: { event: 'PAUSED', message_template_name: 'welcome', message_template_language: 'en_US' } }] }],
    };
    expect((await postWhatsApp(t.app, chat.liveChatId, foreign)).statusCode).toBe(200);
    expect((await call(t.app, 'GET', `/live-chats/${chat.liveChatId}/templates?name=welcome`)).data.items[0].status).toBe('APPROVED');
  });
});

describe('the periodic sync', () => {
  let t: TestApp;
  let whatsapp: HttpStandIn;
  const catalogues = new Map<string, unknown[][]>([[WABA, [[ORDER_UPDATE, WELCOME]]]]);

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn({ catalogues });
    // The app's scheduler looks for due catalogues on an interval timer: only that kind of timer
    // is faked, so that the test moves it while everything else runs in real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    t = await createTestApp({ config: { whatsappApiBaseUrl: whatsapp.url, templateSyncIntervalMinutes: 15 } });
  });
  afterAll(async () => {
    await t?.close();
    vi.useRealTimers();
    await whatsapp.close();
  });

  const templateNames = async (liveChatId: string) => (await call(t.app, 'GET', `/live-chats/${liveChatId}/templates`)).data.items.map((i: { name: string }) => i.name);
  const listings = () => whatsapp.requests.filter((r) => r.method === 'GET' && r.path.startsWith(`/${WABA}/message_templates`));

  it('syncs a catalogue by itself when the app’s timer finds it due, once a minute, and again once its interval has passed', async () => {
    const chat = await liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: WABA });
    // Never synced, so due at once, but nothing asks WhatsApp before the timer's minute is up.
    vi.advanceTimersByTime(59_000);
    await sleep(300);
    expect(listings()).toEqual([]);
    expect(await templateNames(chat.liveChatId)).toEqual([]);

    vi.advanceTimersByTime(1_000);
    await waitUntil(async () => (await templateNames(chat.liveChatId)).length === 2 || undefined, { what: 'the periodic sync' });
    expect(await templateNames(chat.liveChatId)).toEqual(['order_update', 'welcome']);
    expect(listings()).toHaveLength(1);

    // WhatsApp's catalogue changes; once the 15 minutes have passed (moved in the database, whose
    // clock decides what is due), the next tick syncs it again.
    catalogues.set(WABA, [[ORDER_UPDATE, WELCOME, PROMO]]);
    await sql`UPDATE whatsapp_template_catalogues SET next_sync_at = now() - interval '1 second' WHERE live_chat_id = ${chat.liveChatId}`.execute(t.database.handle.db);
    vi.advanceTimersByTime(60_000);
    await waitUntil(async () => (await templateNames(chat.liveChatId)).length === 3 || undefined, { what: 'the second periodic sync' });
    expect(await templateNames(chat.liveChatId)).toEqual(['order_update', 'promo', 'welcome']);
    expect(listings()).toHaveLength(2);
  });
});
