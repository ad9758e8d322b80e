import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHECKS, type Check, noOpenSession, operatorAssigned, whatsAppWindow } from '../../src/sessions/checks.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { expectProblem } from '../support/problems.js';

const HOUR = 60 * 60 * 1000;
const template = { name: 'order_update', language: 'en_US' };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
afterEach(() => vi.restoreAllMocks());

/** Spies on every rule check; `counts()` says how often each ran since. */
function spyOnChecks() {
  const spies = [...new Set(Object.values(CHECKS).flat())].map((check: Check) => [check, vi.spyOn(check, 'run')] as const);
  return {
    counts: () => new Map(spies.map(([check, spy]) => [check, spy.mock.calls.length])),
    reset: () => spies.forEach(([, spy]) => spy.mockClear()),
  };
}

describe('a request through the pipeline', () => {
  it('runs each rule check at most once when refused, also when a guarded write held it back', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const account = newPhone();
    const first = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account, message: { template } });
    expect(first.statusCode, first.body).toBe(201);
    const checks = spyOnChecks();

    // The one-open-session rule is left to the write; its refusal comes after the write wrote nothing.
    const again = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account, message: { template } });
    expectProblem(again, 409, 'session_already_open');
    expect(again.data.existingSessionId).toBe(first.data.id);
    for (const [check, runs] of checks.counts()) expect(runs, check.name).toBeLessThanOrEqual(1);
    expect(checks.counts().get(noOpenSession)).toBe(1);

    // The operator's assignment is left to the write too; a later refusal waits for it.
    checks.reset();
    const stranger = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId: 'op-not-here', contact: { name: 'Bo' }, account: newPhone(), message: { text: 'Hi' } });
    expectProblem(stranger, 403, 'operator_not_assigned');
    for (const [check, runs] of checks.counts()) expect(runs, check.name).toBeLessThanOrEqual(1);
    expect(checks.counts().get(operatorAssigned)).toBe(1);
    expect(checks.counts().get(whatsAppWindow)).toBe(1);
  });

  it('refuses free text outside the WhatsApp window by the same rule on create, reopen and messages', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const account = newPhone();
    await personWrote(t.database.handle.db, liveChatId, { externalUserId: account.slice(1), phone: account }, new Date(t.clock.now().getTime() - 2 * HOUR));
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account, message: { text: 'Hi' } });
    expect(created.statusCode, created.body).toBe(201);
    t.clock.advance(23 * HOUR);
    const window = vi.spyOn(whatsAppWindow, 'run');

    expectProblem(await call(t.app, 'POST', `/sessions/${created.data.id}/messages`, { operatorId, text: 'Still there?' }), 422, 'whatsapp_template_required');
    expectProblem(await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Bo' }, account: newPhone(), message: { text: 'Hi' } }), 422, 'whatsapp_template_required');
    expect((await call(t.app, 'POST', `/sessions/${created.data.id}/close`, {})).statusCode).toBe(200);
    expectProblem(await call(t.app, 'POST', `/sessions/${created.data.id}/reopen`, { operatorId, message: { text: 'Hi again' } }), 422, 'whatsapp_template_required');

    expect(window.mock.calls.map(([ask]) => ask.kind)).toEqual(['send', 'create', 'reopen']);
  });
});
