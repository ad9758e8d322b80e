import { execFile } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';
import { resealSecrets } from '../../src/live-chats/reseal.js';
import { SecretBox, SecretsUnreadableError, secretsKeyId } from '../../src/live-chats/secret-box.js';
import { LiveChatService } from '../../src/live-chats/service.js';
import { call, testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { channels } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

const OLD = randomBytes(32);
const NEW = randomBytes(32);
const secrets = { accessToken: 'EAAG-token', appSecret: 'app-secret' };

describe('SecretBox with several keys', () => {
  it('seals with the first key, names it, and opens with any listed key', () => {
    const sealed = new SecretBox([OLD]).seal(secrets);
    expect(sealed.startsWith(`v2.${secretsKeyId(OLD)}.`)).toBe(true);
    const rotated = new SecretBox([NEW, OLD]);
    expect(rotated.open(sealed)).toEqual(secrets);
    expect(rotated.isCurrent(sealed)).toBe(false);
    expect(rotated.isCurrent(rotated.seal(secrets))).toBe(true);
    expect(() => new SecretBox([NEW]).open(sealed)).toThrow(SecretsUnreadableError);
  });

  it('opens values sealed before key ids existed (v1), with whichever key fits', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', OLD, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    const v1 = ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    expect(new SecretBox([NEW, OLD]).open(v1)).toEqual(secrets);
    expect(() => new SecretBox([NEW]).open(v1)).toThrow(SecretsUnreadableError);
  });
});

describe('live chats across a SECRETS_KEY change', () => {
  let database: TestDatabase;
  const apps: App[] = [];
  const ids: Record<string, string> = {};

  async function appWith(keys: Buffer[]): Promise<App> {
    const app = await buildApp({ config: testConfig({ secretsKeys: keys }), database: database.handle });
    await app.ready();
    apps.push(app);
    return app;
  }
  const stored = async (id: string) =>
    (await database.handle.db.selectFrom('live_chats').select('channel_secrets').where('id', '=', id).executeTakeFirstOrThrow()).channel_secrets;

  beforeAll(async () => {
    database = await createTestDatabase();
    const before = await appWith([OLD]);
    for (const kind of ['whatsapp', 'telegram', 'email'] as const) {
      const created = await call(before, 'POST', '/live-chats', { name: kind, channel: channels[kind]() });
      expect(created.statusCode, created.body).toBe(201);
      ids[kind] = created.data.id;
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await database.drop();
  });

  it('lists and reads live chats whose secrets no key opens, as secretsReadable: false', async () => {
    const app = await appWith([NEW]);
    const listed = await call(app, 'GET', '/live-chats');
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.data.items.map((c: { secretsReadable: boolean }) => c.secretsReadable)).toEqual([false, false, false]);
    const read = await call(app, 'GET', `/live-chats/${ids.telegram}`);
    expect(read.statusCode).toBe(200);
    expect(read.data).toMatchObject({ secretsReadable: false, channel: { type: 'telegram', botId: '123456789' } });
  });

  it('fails only where the secrets are used: webhooks answer 503, a PATCH must give the secrets again', async () => {
    const app = await appWith([NEW]);
    const update = { update_id: 9, message: { message_id: 1, date: 1_757_477_109, chat: { id: 7, type: 'private' }, from: { id: 7 }, text: 'hi' } };
    const webhook = await app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${ids.telegram}`,
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': channels.telegram().webhookSecret },
      payload: update,
    });
    expect(webhook.statusCode).toBe(503);
    expect(JSON.parse(webhook.body).code).toBe('secrets_unreadable');
    // A rename keeps the sealed secrets as they are, for the right key to open later.
    const sealed = await stored(ids.whatsapp!);
    expect((await call(app, 'PATCH', `/live-chats/${ids.whatsapp}`, { name: 'renamed' })).statusCode).toBe(200);
    expect(await stored(ids.whatsapp!)).toBe(sealed);
    expectFieldError(await call(app, 'PATCH', `/live-chats/${ids.whatsapp}`, { channel: { appSecret: 'new-app-secret' } }), '/channel/accessToken', 'required');
    expectProblem(await call(app, 'PATCH', `/live-chats/${ids.email}`, { channel: { smtp: { host: 'smtp.example.com' } } }), 422, 'smtp_password_required');
  });

  it('re-seals everything with the first key, and the old ciphertexts still open until then', async () => {
    const before = await stored(ids.email!);
    const both = new SecretBox([NEW, OLD]);
    expect(await new LiveChatService(database.handle.db, both).get(ids.email!)).toMatchObject({ secretsReadable: true, channel: { smtp: { password: 'smtp-password' } } });
    expect(await resealSecrets(database.handle.db, both)).toEqual({ resealed: 3, current: 0, unreadable: [] });
    const after = await stored(ids.email!);
    expect(after).not.toBe(before);
    expect(after.startsWith(`v2.${secretsKeyId(NEW)}.`)).toBe(true);
    // The new key alone now opens every live chat; running again changes nothing.
    const app = await appWith([NEW]);
    expect((await call(app, 'GET', '/live-chats')).data.items.map((c: { secretsReadable: boolean }) => c.secretsReadable)).toEqual([true, true, true]);
    expect(await new LiveChatService(database.handle.db, new SecretBox([NEW])).get(ids.whatsapp!)).toMatchObject({ channel: { accessToken: 'EAAG-test-access-token' } });
    expect(await resealSecrets(database.handle.db, both)).toEqual({ resealed: 0, current: 3, unreadable: [] });
  });
});

describe('npm run secrets:rotate', () => {
  const cli = fileURLToPath(new URL('../../src/live-chats/rotate-secrets-cli.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'rotate-'));
  });
  afterAll(() => rm(folder, { recursive: true, force: true }));

  it('re-seals with the first key and reports a live chat that no key opens', async () => {
    const handle = await connectDatabase({ dataDir: folder });
    await migrate(handle);
    const oldChat = await new LiveChatService(handle.db, new SecretBox([OLD])).create({ name: 'old', channel: channels.telegram() as never });
    const lost = await new LiveChatService(handle.db, new SecretBox([randomBytes(32)])).create({ name: 'lost', channel: channels.telegram() as never });
    await handle.close();

    const env = { PATH: process.env.PATH, DATA_DIR: folder, SECRETS_KEY: `${NEW.toString('base64')},${OLD.toString('base64')}` };
    const run = await promisify(execFile)(tsx, [cli], { env }).then(
      (out) => ({ code: 0, ...out }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('1 live chats re-sealed');
    expect(run.stderr).toContain(lost.id);

    const reopened = await connectDatabase({ dataDir: folder });
    try {
      expect((await new LiveChatService(reopened.db, new SecretBox([NEW])).get(oldChat.id)).secretsReadable).toBe(true);
    } finally {
      await reopened.close();
    }
    // A process of its own (tsx, PGlite on disk): slow on a busy machine.
  }, 120_000);
});
