import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.js';
import { call } from '../support/app.js';
import { channels } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';

const walkthrough = fileURLToPath(new URL('../../docs/walkthrough.sh', import.meta.url));

describe('npm run sandbox', () => {
  let sandbox: Sandbox;
  const key = () => ({ key: sandbox.adminApiKey });
  beforeAll(async () => {
    sandbox = await startSandbox({ env: { LOG_LEVEL: 'silent' }, port: 0, smtpPort: 0, statusDelayMs: 50 });
  });
  afterAll(() => sandbox.close());

  const messagesOf = async (sessionId: string) => (await call(sandbox.app, 'GET', `/sessions/${sessionId}/messages`, undefined, key())).data.items as Record<string, any>[];

  it('runs the README walkthrough, delivers its message, and WhatsApp reports it delivered and read', async () => {
    const { stdout } = await promisify(execFile)('bash', [walkthrough], { env: { ...process.env, BASE_URL: sandbox.url, ADMIN_API_KEY: sandbox.adminApiKey } });
    const [, liveChatId, sessionId] = /Walkthrough complete: live chat (\S+), session (\S+),/.exec(stdout)!;
    const read = await waitUntil(async () => (await messagesOf(sessionId!)).find((m) => m.status === 'read'), { what: 'the first message to be read' });
    expect(read).toMatchObject({ direction: 'outbound', template: { name: 'order_update' }, providerMessageId: expect.stringMatching(/^wamid\./) });

    // The customer answers: the reply lands on the session and opens the 24-hour window for free text.
    const session = (await call(sandbox.app, 'GET', `/sessions/${sessionId}`, undefined, key())).data;
    const refused = await call(sandbox.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId: session.operatorId, text: 'Any questions?' }, key());
    expectProblem(refused, 422, 'whatsapp_template_required');
    const wrote = await call(sandbox.app, 'POST', '/sandbox/customer-messages', { liveChatId, from: '+49 151 23456789', text: 'Where is my order?' }, key());
    expect(wrote.statusCode, wrote.body).toBe(200);
    expect(wrote.data.webhookStatus).toBe(200);
    expect((await messagesOf(sessionId!)).map((m) => [m.direction, m.text])).toContainEqual(['inbound', 'Where is my order?']);
    const sent = await call(sandbox.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId: session.operatorId, text: 'It ships today.' }, key());
    expect(sent.statusCode, sent.body).toBe(202);
    await waitUntil(async () => (await messagesOf(sessionId!)).find((m) => m.text === 'It ships today.' && m.status === 'read'), { what: 'the reply to be read' });
  });

  it('lets a Telegram customer write first, which opens a session in the queue that the operator takes', async () => {
    const created = await call(sandbox.app, 'POST', '/live-chats', { name: 'Bot', channel: channels.telegram() }, key());
    const liveChatId = created.data.id;
    await call(sandbox.app, 'PUT', `/live-chats/${liveChatId}/operators/op-1`, undefined, key());
    const initiate = () => call(sandbox.app, 'POST', '/sessions', { liveChatId, operatorId: 'op-1', contact: { name: 'Ann' }, account: '@ann_sandbox', message: { text: 'Hello Ann' } }, key());
    expectProblem(await initiate(), 422, 'telegram_no_prior_contact');
    expect((await call(sandbox.app, 'POST', '/sandbox/customer-messages', { liveChatId, from: '@ann_sandbox', text: '/start' }, key())).data.webhookStatus).toBe(200);
    const queued = expectProblem(await initiate(), 409, 'session_already_open').existingSessionId;
    expect((await call(sandbox.app, 'POST', `/sessions/${queued}/assign`, { operatorId: 'op-1' }, key())).statusCode).toBe(200);
    const sent = await call(sandbox.app, 'POST', `/sessions/${queued}/messages`, { operatorId: 'op-1', text: 'Hello Ann' }, key());
    expect(sent.statusCode, sent.body).toBe(202);
    const deliveries = await waitUntil(async () => {
      const { telegram } = (await call(sandbox.app, 'GET', '/sandbox/deliveries', undefined, key())).data;
      return telegram.find((d: { body: { text?: string } }) => d.body.text === 'Hello Ann');
    }, { what: 'the Telegram message' });
    expect(deliveries.path).toBe('/bot<token>/sendMessage');
  });

  it('delivers email to its local SMTP server', async () => {
    const created = await call(sandbox.app, 'POST', '/live-chats', { name: 'Inbox', channel: channels.email({ smtp: { host: '127.0.0.1', port: sandbox.smtpPort } }) }, key());
    await call(sandbox.app, 'PUT', `/live-chats/${created.data.id}/operators/op-1`, undefined, key());
    const session = await call(sandbox.app, 'POST', '/sessions', { liveChatId: created.data.id, operatorId: 'op-1', contact: { name: 'Bo' }, account: 'bo@example.com', message: { text: 'Hi Bo' } }, key());
    expect(session.statusCode, session.body).toBe(201);
    await waitUntil(async () => (await call(sandbox.app, 'GET', '/sandbox/deliveries', undefined, key())).data.email.find((m: { to: string[] }) => m.to.includes('bo@example.com')), { what: 'the email' });
  });

  it('never starts in production', async () => {
    await expect(startSandbox({ env: { NODE_ENV: 'production' }, port: 0, smtpPort: 0 })).rejects.toThrow(/production/);
  });
});
