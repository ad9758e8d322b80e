import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionClient } from '../../clients/typescript/index.js';
import { ADMIN_KEY } from '../support/app.js';
import { startTestServer } from '../support/server.js';

describe('the generated TypeScript client', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('creates a live chat, assigns an operator, initiates, gets the typed 409, closes and reopens', async () => {
    const api = createSessionClient({ baseUrl: server.url, apiKey: ADMIN_KEY });

    const chat = await api.POST('/live-chats', {
      body: { name: 'Inbox', channel: { type: 'email', address: 'support@example.com', smtp: { host: '127.0.0.1', port: 2525 } } },
    });
    expect(chat.response.status).toBe(201);
    const liveChatId = chat.data!.id;

    const assigned = await api.PUT('/live-chats/{id}/operators/{operatorId}', { params: { path: { id: liveChatId, operatorId: 'op-1' } } });
    expect(assigned.response.status).toBe(204);

    const body = { liveChatId, operatorId: 'op-1', contact: { name: 'Ann', emails: ['ann@example.com'] }, message: { text: 'Hello Ann' } };
    const created = await api.POST('/sessions', { body, params: { header: { 'idempotency-key': 'client-e2e-1' } } });
    expect(created.response.status).toBe(201);
    const session = created.data!;
    expect(session).toMatchObject({ liveChatId, operatorId: 'op-1', status: 'open', account: 'ann@example.com', channel: 'email' });

    const conflict = await api.POST('/sessions', { body: { ...body, contact: { name: 'Ann again', emails: ['ann@example.com'] } } });
    expect(conflict.response.status).toBe(409);
    expect(conflict.error?.code).toBe('session_already_open');
    expect(conflict.error?.existingSessionId).toBe(session.id);

    const closed = await api.POST('/sessions/{id}/close', { params: { path: { id: session.id } }, body: { operatorId: 'op-1' } });
    expect(closed.data?.status).toBe('closed');

    const reopened = await api.POST('/sessions/{id}/reopen', { params: { path: { id: session.id } }, body: { operatorId: 'op-1' } });
    expect(reopened.data).toMatchObject({ id: session.id, status: 'open', closedAt: null });

    const messages = await api.GET('/sessions/{id}/messages', { params: { path: { id: session.id } } });
    expect(messages.data?.items.map((m) => m.text)).toEqual(['Hello Ann']);
  });

  it('lists the queue and takes a session a customer’s email opened', async () => {
    const api = createSessionClient({ baseUrl: server.url, apiKey: ADMIN_KEY });
    const inboundSecret = 'client-inbound-secret-0123';
    const chat = await api.POST('/live-chats', {
      body: { name: 'Inbox', channel: { type: 'email', address: 'help@example.com', smtp: { host: '127.0.0.1', port: 2525 }, inboundSecret } },
    });
    const liveChatId = chat.data!.id;
    await api.PUT('/live-chats/{id}/operators/{operatorId}', { params: { path: { id: liveChatId, operatorId: 'op-1' } } });

    // The mail server pipes the customer's email in; it opens a session in the queue.
    const email = 'From: Bea <bea@customer.example>\r\nTo: help@example.com\r\nSubject: Refund\r\nMessage-ID: <refund-1@customer.example>\r\n\r\nI want my money back.\r\n';
    const piped = await fetch(`${server.url}/webhooks/email/${liveChatId}`, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${inboundSecret}` },
      body: email,
    });
    expect(piped.status).toBe(200);

    const queue = await api.GET('/sessions', { params: { query: { liveChatId, unassigned: true, status: 'open' } } });
    expect(queue.data?.items).toHaveLength(1);
    const waiting = queue.data!.items[0]!;
    expect(waiting).toMatchObject({ origin: 'inbound', operatorId: null, account: 'bea@customer.example' });

    const taken = await api.POST('/sessions/{id}/assign', { params: { path: { id: waiting.id } }, body: { operatorId: 'op-1' } });
    expect(taken.data).toMatchObject({ id: waiting.id, operatorId: 'op-1' });
    const messages = await api.GET('/sessions/{id}/messages', { params: { path: { id: waiting.id } } });
    expect(messages.data?.items.map((m) => [m.direction, m.subject, m.text])).toEqual([['inbound', 'Refund', 'I want my money back.']]);
  });

  it('returns problem details as typed errors', async () => {
    const api = createSessionClient({ baseUrl: server.url, apiKey: 'not-a-key' });
    const result = await api.GET('/sessions', { params: { query: { limit: 5 } } });
    expect(result.response.status).toBe(401);
    expect(result.error?.code).toBe('unauthorized');
  });
});
