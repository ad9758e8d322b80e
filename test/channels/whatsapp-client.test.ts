import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WhatsAppClient } from '../../src/channels/whatsapp-client.js';
import { type HttpStandIn, closedPortUrl } from '../support/http-stand-in.js';
import { startWhatsAppStandIn, whatsAppError } from '../support/whatsapp-stand-in.js';
import { liveChatWith, textMessage } from './live-chat.js';

const channel = { type: 'whatsapp', phoneNumberId: '106540352242922', accessToken: 'EAAG-test-access-token' } as const;

describe('WhatsApp client', () => {
  let standIn: HttpStandIn;
  let client: WhatsAppClient;
  beforeAll(async () => {
    standIn = await startWhatsAppStandIn();
    client = new WhatsAppClient({ baseUrl: standIn.url, timeoutMs: 300 });
  });
  afterAll(() => standIn.close());
  beforeEach(() => standIn.reset());

  it('posts a text message to /{phoneNumberId}/messages with the bearer token, in the documented shape', async () => {
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));

    expect(result).toEqual({ outcome: 'sent', providerMessageId: expect.stringMatching(/^wamid\./), providerRecipient: '4915123456789' });
    expect(standIn.requests).toHaveLength(1);
    const [request] = standIn.requests;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/106540352242922/messages');
    expect(request!.headers.authorization).toBe('Bearer EAAG-test-access-token');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '4915123456789',
      type: 'text',
      text: { preview_url: false, body: 'Hi' },
    });
  });

  it('sends a template with its parameters as body component parameters', async () => {
    const result = await client.send(liveChatWith(channel), {
      id: randomUUID(),
      to: '+4915123456789',
      content: { template: { name: 'order_update', language: 'en_US', parameters: ['Asha', '#42'] } },
      thread: [],
    });

    expect(result.outcome).toBe('sent');
    expect(standIn.requests[0]!.body).toEqual({
      messaging_product: 'whatsapp',
      to: '4915123456789',
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'Asha' }, { type: 'text', text: '#42' }] }],
      },
    });
  });

  it('leaves out the components of a template without parameters', async () => {
    await client.send(liveChatWith(channel), { id: randomUUID(), to: '+4915123456789', content: { template: { name: 'hello_world', language: 'en_US' } }, thread: [] });
    expect(standIn.requests[0]!.body.template).toEqual({ name: 'hello_world', language: { code: 'en_US' } });
  });

  it('keeps messages[0].id and the wa_id WhatsApp returns, which may differ from the number sent', async () => {
    standIn.replyNext({
      status: 200,
      body: { messaging_product: 'whatsapp', contacts: [{ input: '5511987654321', wa_id: '551187654321' }], messages: [{ id: 'wamid.BR-9th-digit' }] },
    });
    const result = await client.send(liveChatWith(channel), textMessage('+5511987654321', 'Oi'));
    expect(result).toEqual({ outcome: 'sent', providerMessageId: 'wamid.BR-9th-digit', providerRecipient: '551187654321' });
  });

  it.each([
    [131026, 400, 'Message undeliverable'],
    [131047, 400, 'Re-engagement message'],
    [131030, 400, 'Recipient phone number not in allowed list'],
    [190, 401, 'Error validating access token: Session has expired'],
    [100, 400, 'Invalid parameter'],
  ])('classifies error code %i (HTTP %i) as permanent, with the code and message', async (code, status, message) => {
    standIn.replyNext(whatsAppError(code, message, status, 'more details'));
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toEqual({ outcome: 'permanent', code: `whatsapp_${code}`, message: `${message}: more details` });
  });

  it.each([
    [130429, 400],
    [1, 400],
    [2, 503],
  ])('classifies error code %i (HTTP %i) as transient', async (code, status) => {
    standIn.replyNext(whatsAppError(code, 'Rate limit hit', status));
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: `whatsapp_${code}` });
  });

  it('backs off longer for too many messages to one person (131056)', async () => {
    standIn.replyNext(whatsAppError(131056, '(Business Account, Consumer Account) pair rate limit hit'));
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'whatsapp_131056', retryAfterMs: 6000 });
  });

  it('classifies a 5xx without a Graph error body as transient', async () => {
    standIn.replyNext({ status: 502, body: '<html>Bad Gateway</html>' });
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'whatsapp_http_502' });
  });

  it('turns a provider that never answers into a transient timeout', async () => {
    standIn.replyNext({ hang: true });
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'timeout' });
  });

  it('turns a cut connection into a transient network error', async () => {
    standIn.replyNext({ destroy: true });
    const result = await client.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'network_error' });
  });

  it('turns a refused connection into a transient network error', async () => {
    const refused = new WhatsAppClient({ baseUrl: await closedPortUrl(), timeoutMs: 1_000 });
    const result = await refused.send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'network_error', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('gives up when cancelled', async () => {
    standIn.replyNext({ hang: true });
    const controller = new AbortController();
    const pending = new WhatsAppClient({ baseUrl: standIn.url, timeoutMs: 10_000 }).send(liveChatWith(channel), textMessage('+4915123456789', 'Hi'), controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    expect(await pending).toMatchObject({ outcome: 'transient', code: 'aborted' });
  });
});
