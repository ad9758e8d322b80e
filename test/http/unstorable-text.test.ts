import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { call, testConfig } from '../support/app.js';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { liveChatWithOperator } from '../support/fixtures.js';
import { expectFieldError } from '../support/problems.js';
import { StatementCounter } from '../support/statement-counter.js';
import { postTelegram, telegramMessage } from '../webhooks/providers.js';

const NUL = '\u0000';
let database: TestDatabase;
let app: App;
const statements = new StatementCounter();

beforeAll(async () => {
  database = await createTestDatabase();
  app = await buildApp({ config: testConfig(), database: statements.wrap(database.handle) });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await database.drop();
});

describe('text with U+0000, which Postgres cannot store', () => {
  it('is refused on every route as 400 validation_failed at the field’s pointer, before any database work', async () => {
    const id = randomUUID();
    const cases: [string, string, unknown, string][] = [
      ['POST', '/sessions', { liveChatId: id, operatorId: 'op-1', contact: { name: `Ann${NUL}` }, account: 'ann@example.com' }, '/contact/name'],
      ['POST', '/sessions', { liveChatId: id, operatorId: 'op-1', contactId: id, message: { text: `hi${NUL}` } }, '/message/text'],
      ['POST', `/sessions/${id}/messages`, { operatorId: 'op-1', text: `a${NUL}b` }, '/text'],
      ['POST', `/sessions/${id}/reopen`, { operatorId: `op${NUL}` }, '/operatorId'],
      ['POST', `/sessions/${id}/close`, { operatorId: `op${NUL}` }, '/operatorId'],
      ['GET', `/sessions?account=%00&liveChatId=${id}`, undefined, '/account'],
      ['GET', `/sessions?operatorId=op%00`, undefined, '/operatorId'],
      ['POST', '/contacts', { name: 'Ann', phones: ['+49 151 23456789'], emails: [`a${NUL}@example.com`] }, '/emails/0'],
      ['PATCH', `/contacts/${id}`, { name: `x${NUL}` }, '/name'],
      ['GET', '/contacts?email=a%00@example.com', undefined, '/email'],
      ['POST', '/live-chats', { name: `Desk${NUL}`, channel: { type: 'telegram', botToken: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw' } }, '/name'],
      ['PATCH', `/live-chats/${id}`, { channel: { smtp: { host: `mail${NUL}.example.com` } } }, '/channel/smtp/host'],
      ['PUT', `/live-chats/${id}/operators/op%00x`, undefined, '/operatorId'],
      ['POST', '/api-keys', { name: `key${NUL}`, scopes: ['sessions'] }, '/name'],
    ];
    for (const [method, url, body, field] of cases) {
      const before = statements.count;
      const response = await call(app, method as 'POST', url, body);
      expectFieldError(response, field, 'invalid_character');
      expect(statements.count, `${method} ${url} reached the database`).toBe(before);
    }
  });

  it('names an object key with U+0000 by its pointer too', async () => {
    const response = await call(app, 'POST', '/contacts', { name: 'Ann', [`na${NUL}me`]: 'x' });
    expectFieldError(response, `/na${NUL}me`, 'invalid_character');
  });

  it('keeps a provider’s event with U+0000, as U+FFFD, instead of refusing it', async () => {
    const { liveChatId } = await liveChatWithOperator(app, 'telegram');
    const response = await postTelegram(app, liveChatId, telegramMessage({ id: 77 }, { text: `hi${NUL}there` }));
    expect(response.statusCode, response.body).toBe(200);
  });
});
