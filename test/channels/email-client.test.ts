import { type AddressInfo, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmailClient, isLoopbackHost } from '../../src/channels/email-client.js';
import type { EmailChannel } from '../../src/live-chats/model.js';
import { closedPortUrl } from '../support/http-stand-in.js';
import { SmtpStandIn, nonLoopbackAddress } from '../support/smtp-stand-in.js';
import { liveChatWith, textMessage } from './live-chat.js';

const emailChannel = (port: number): EmailChannel => ({
  type: 'email',
  address: 'support@example.com',
  smtp: { host: '127.0.0.1', port, secure: false, username: 'mailer', password: 'smtp-password' },
});

describe('Email client', () => {
  let smtp: SmtpStandIn;
  let client: EmailClient;
  beforeAll(async () => {
    smtp = await SmtpStandIn.start();
    client = new EmailClient({ timeoutMs: 500 });
  });
  afterAll(async () => {
    await client.close();
    await smtp.close();
  });
  afterEach(() => smtp.reset());

  it('sends from the inbox address with our own Message-ID, and without a stored subject names the live chat', async () => {
    const liveChat = liveChatWith(emailChannel(smtp.port), { name: 'Acme Support' });
    const message = textMessage('ann@example.org', 'Hello Ann,\nyour order shipped.');

    const result = await client.send(liveChat, message);

    expect(result).toEqual({ outcome: 'sent', providerMessageId: `<${message.id}@example.com>`, providerRecipient: 'ann@example.org' });
    expect(smtp.received).toHaveLength(1);
    const { envelope, mail } = smtp.received[0]!;
    expect(envelope).toEqual({ from: 'support@example.com', to: ['ann@example.org'] });
    expect(mail.from?.value).toEqual([{ address: 'support@example.com', name: 'Acme Support' }]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : []).toEqual(['ann@example.org']);
    expect(mail.subject).toBe('Acme Support');
    expect(mail.messageId).toBe(`<${message.id}@example.com>`);
    expect(mail.text?.trim()).toBe('Hello Ann,\nyour order shipped.');
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.references).toBeUndefined();
  });

  it('threads a later message on the earlier ones: In-Reply-To the last, References the chain, the subject as stored', async () => {
    const liveChat = liveChatWith(emailChannel(smtp.port));
    const first = textMessage('ann@example.org', 'First', [], 'Order 4711');
    const firstResult = await client.send(liveChat, first);
    expect(firstResult.outcome).toBe('sent');
    const firstId = (firstResult as { providerMessageId: string }).providerMessageId;

    await client.send(liveChat, textMessage('ann@example.org', 'Second', [firstId], 'Re: Order 4711'));
    // An inbound reply may be stored without angle brackets.
    await client.send(liveChat, textMessage('ann@example.org', 'Third', [firstId, 'reply-1@example.org'], 'Re: Order 4711'));

    const [head, second, third] = smtp.received.map((r) => r.mail);
    expect(head!.subject).toBe('Order 4711');
    expect(second!.subject).toBe('Re: Order 4711');
    expect(second!.inReplyTo).toBe(firstId);
    expect(second!.references).toBe(firstId);
    expect(third!.inReplyTo).toBe('<reply-1@example.org>');
    expect(third!.references).toEqual([firstId, '<reply-1@example.org>']);
  });

  it.each([
    ['rcpt', 450, 'Mailbox busy, try later', 'transient'],
    ['rcpt', 550, 'No such user', 'permanent'],
    ['data', 451, 'Local error in processing', 'transient'],
    ['data', 554, 'Message rejected as spam', 'permanent'],
  ] as const)('classifies a %s reply %i as %s', async (at, code, message, outcome) => {
    smtp.failNext({ at, code, message });
    const result = await client.send(liveChatWith(emailChannel(smtp.port)), textMessage('ann@example.org', 'Hi'));
    expect(result).toMatchObject({ outcome, code: `smtp_${code}`, message: expect.stringContaining(message) });
    expect(smtp.received).toHaveLength(0);
  });

  it('turns a server that stops answering into a transient timeout', async () => {
    smtp.failNext({ at: 'data', hang: true });
    const result = await client.send(liveChatWith(emailChannel(smtp.port)), textMessage('ann@example.org', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'timeout' });
  });

  it('turns a refused connection into a transient network error', async () => {
    const port = Number(new URL(await closedPortUrl()).port);
    const result = await client.send(liveChatWith(emailChannel(port)), textMessage('ann@example.org', 'Hi'));
    expect(result).toMatchObject({ outcome: 'transient', code: 'network_error' });
  });

  it('rebuilds the pooled transport when the live chat changes, and keeps it otherwise', async () => {
    const other = await SmtpStandIn.start();
    try {
      const liveChat = liveChatWith(emailChannel(smtp.port), { updatedAt: new Date('2026-01-01T00:00:00Z') });
      await client.send(liveChat, textMessage('ann@example.org', 'via the first server'));
      // Same version of the live chat: the pool for it is reused as it is.
      await client.send({ ...liveChat, channel: emailChannel(other.port) }, textMessage('ann@example.org', 'still the first'));
      // The live chat was updated: its new settings take effect.
      await client.send({ ...liveChat, channel: emailChannel(other.port), updatedAt: new Date('2026-01-02T00:00:00Z') }, textMessage('ann@example.org', 'via the second'));

      expect(smtp.received.map((r) => r.mail.text?.trim())).toEqual(['via the first server', 'still the first']);
      expect(other.received.map((r) => r.mail.text?.trim())).toEqual(['via the second']);
    } finally {
      await other.close();
    }
  });

  it('describes a failed connection in its own words, never with the server’s banner', async () => {
    // A server that greets with a refusal and its own text (which could say anything).
    const banner = createServer((socket) => socket.end('554 Visit https://phish.example to restore your mailbox\r\n'));
    await new Promise<void>((resolve) => banner.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = banner.address() as AddressInfo;
      const result = await client.send(liveChatWith(emailChannel(port)), textMessage('ann@example.org', 'Hi'));
      expect(result.outcome).not.toBe('sent');
      expect(JSON.stringify(result)).not.toContain('phish');
      expect(result).toMatchObject({ message: expect.stringContaining(`127.0.0.1:${port}`) });
    } finally {
      await new Promise((resolve) => banner.close(resolve));
    }
    const closed = Number(new URL(await closedPortUrl()).port);
    const refused = await client.send(liveChatWith(emailChannel(closed)), textMessage('ann@example.org', 'Hi'));
    expect(refused).toMatchObject({ code: 'network_error', message: expect.stringMatching(new RegExp(`connecting to the SMTP server 127\\.0\\.0\\.1:${closed}.*ECONNREFUSED`)) });
  });
});

describe('Email client: STARTTLS', () => {
  let remote: SmtpStandIn;
  let client: EmailClient;
  beforeAll(async () => {
    // Reached through a non-loopback address, as a remote server is; it offers AUTH but not STARTTLS.
    remote = await SmtpStandIn.start({ auth: true, host: nonLoopbackAddress() });
    client = new EmailClient({ timeoutMs: 2_000 });
  });
  afterAll(async () => {
    await client.close();
    await remote.close();
  });
  afterEach(() => remote.reset());

  const channelTo = (smtp: Partial<EmailChannel['smtp']>): EmailChannel => ({
    type: 'email',
    address: 'support@example.com',
    smtp: { host: remote.host, port: remote.port, secure: false, username: 'mailer', password: 'smtp-password', ...smtp },
  });

  it('fails the message permanently with smtp_tls_required when the server does not offer STARTTLS, sending nothing', async () => {
    const result = await client.send(liveChatWith(channelTo({})), textMessage('ann@example.org', 'Hi'));
    expect(result).toMatchObject({ outcome: 'permanent', code: 'smtp_tls_required' });
    expect(remote.logins).toEqual([]);
    expect(remote.received).toEqual([]);
  });

  it('sends in plain text when the live chat allows it (allowPlaintext)', async () => {
    const result = await client.send(liveChatWith(channelTo({ allowPlaintext: true })), textMessage('ann@example.org', 'Hi'));
    expect(result.outcome).toBe('sent');
    expect(remote.logins).toEqual([{ username: 'mailer', password: 'smtp-password' }]);
  });

  it('exempts loopback hosts only', () => {
    for (const host of ['localhost', 'LOCALHOST', 'mail.localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['smtp.example.com', '10.0.0.1', '192.0.2.2', 'localhost.example.com', '128.0.0.1', '::2']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
