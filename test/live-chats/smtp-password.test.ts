import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { channels } from '../support/fixtures.js';
import { waitUntil } from '../support/http-stand-in.js';
import { expectProblem } from '../support/problems.js';
import { SmtpStandIn } from '../support/smtp-stand-in.js';

// A stored SMTP password goes only to the server it was given for: a PATCH that moves the
// live chat to another server, port or user must give it again. Both servers record logins.
describe('the stored SMTP password and a changed server', () => {
  let t: TestApp;
  let first: SmtpStandIn;
  let second: SmtpStandIn;

  beforeAll(async () => {
    [first, second] = await Promise.all([SmtpStandIn.start({ auth: true }), SmtpStandIn.start({ auth: true })]);
    t = await createTestApp({ config: { dispatcherEnabled: true, delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 2_000 } } });
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([first.close(), second.close()]);
  });

  async function sendOne(liveChatId: string, operatorId: string, to: string): Promise<Record<string, any>> {
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: to, message: { text: 'Hello' } });
    expect(created.statusCode, created.body).toBe(201);
    return waitUntil(
      async () => {
        const [message] = (await call(t.app, 'GET', `/sessions/${created.data.id}/messages`)).data.items;
        return message && message.status !== 'queued' ? message : undefined;
      },
      { what: 'the message to leave the outbox' },
    );
  }

  it('refuses a new host, port or user without the password, and never sends the stored one elsewhere', async () => {
    const created = await call(t.app, 'POST', '/live-chats', {
      name: 'Inbox',
      channel: channels.email({ smtp: { host: '127.0.0.1', port: first.port, username: 'mailer', password: 'smtp-password' } }),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.data.id as string;
    await call(t.app, 'PUT', `/live-chats/${id}/operators/op-1`);

    for (const smtp of [{ host: 'localhost', port: second.port }, { port: second.port }, { username: 'someone-else' }, { host: 'mail.attacker.example' }]) {
      const refused = await call(t.app, 'PATCH', `/live-chats/${id}`, { channel: { smtp } });
      expectProblem(refused, 422, 'smtp_password_required');
    }
    // Nothing changed: the next message goes to the first server, with its password.
    expect((await call(t.app, 'GET', `/live-chats/${id}`)).data.channel.smtp).toMatchObject({ host: '127.0.0.1', port: first.port, username: 'mailer' });
    expect((await sendOne(id, 'op-1', 'ann@example.org')).status).toBe('sent');
    expect(first.logins).toEqual([{ username: 'mailer', password: 'smtp-password' }]);

    // With the password given again, the live chat moves; the new server gets the new password only.
    const moved = await call(t.app, 'PATCH', `/live-chats/${id}`, { channel: { smtp: { port: second.port, password: 'second-password' } } });
    expect(moved.statusCode, moved.body).toBe(200);
    // The dispatcher keeps live chats for up to five seconds: wait for the new settings to be used.
    await waitUntil(async () => (await sendOne(id, 'op-1', `p${Date.now()}@example.org`)) && second.logins.length > 0, { timeoutMs: 15_000, what: 'a message through the second server' });
    expect(second.logins.map((l) => l.password)).not.toContain('smtp-password');
    expect(second.logins[0]).toEqual({ username: 'mailer', password: 'second-password' });
  });

  it('lets a change of anything else keep the stored password, and a live chat without one move freely', async () => {
    const withPassword = await call(t.app, 'POST', '/live-chats', { name: 'Inbox', channel: channels.email({ smtp: { host: '127.0.0.1', port: first.port, username: 'mailer', password: 'p' } }) });
    const same = await call(t.app, 'PATCH', `/live-chats/${withPassword.data.id}`, { channel: { smtp: { host: '127.0.0.1', port: first.port, allowPlaintext: true }, address: 'help@example.com' } });
    expect(same.statusCode, same.body).toBe(200);
    const without = await call(t.app, 'POST', '/live-chats', { name: 'Inbox', channel: channels.email({ smtp: { host: '127.0.0.1', port: first.port } }) });
    const movedFreely = await call(t.app, 'PATCH', `/live-chats/${without.data.id}`, { channel: { smtp: { host: 'smtp.example.com', port: 587, username: 'new-user' } } });
    expect(movedFreely.statusCode, movedFreely.body).toBe(200);
  });
});
