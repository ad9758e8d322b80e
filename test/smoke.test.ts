import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from './support/app.js';
import { liveChatWithOperator, newPhone } from './support/fixtures.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('initiates a session and refuses a second one', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'email');
    const body = { liveChatId, operatorId, contact: { name: 'Ann', emails: ['Ann@Example.COM'] }, message: { text: 'Hello!' } };
    const first = await call(t.app, 'POST', '/sessions', body);
    expect(first.statusCode, first.body).toBe(201);
    const second = await call(t.app, 'POST', '/sessions', body);
    expect(second.statusCode, second.body).toBe(409);
    expect(second.data.existingSessionId).toBe(first.data.id);
    expect(newPhone()).toMatch(/^\+49151/);
  });
});
