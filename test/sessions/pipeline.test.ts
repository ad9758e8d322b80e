import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHECKS, type Check, noOpenSession, operatorAssigned, whatsAppWindow } from '../../src/sessions/checks.js';
import { templateFits } from '../../src/sessions/template-check.js';
import { replaceCatalogue } from '../../src/templates/repository.js';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { expectProblem } from '../support/problems.js';
import { graphTemplate } from '../support/whatsapp-stand-in.js';

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

/** Replaces the live chat's stored catalogue as a sync on another replica would: this replica's cached copy is not told. */
async function syncElsewhere(liveChatId: string, templates: ReturnType<typeof graphTemplate>[]) {
  await t.database.handle.db.transaction().execute((trx) => replaceCatalogue(trx, liveChatId, templates, new Date(Date.now() + 24 * HOUR)));
}

const orderUpdate = (status = 'APPROVED') => graphTemplate('order_update', { status, body: 'Hi {{1}}, order {{2}} ships today' });
const fitting = { ...template, parameters: ['Ann', '4711'] };

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

  it.each([
    ['template_not_found', { name: 'order_updates', language: 'en_US' }],
    ['template_not_approved', { name: 'promo', language: 'en_US' }],
    ['template_parameters_mismatch', { ...template, parameters: ['Ann'] }],
  ])('runs each rule check at most once when a synced catalogue refuses the template: %s', async (code, refused) => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    await syncElsewhere(liveChatId, [orderUpdate(), graphTemplate('promo', { status: 'PENDING' })]);
    const created = await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { template: fitting } });
    expect(created.statusCode, created.body).toBe(201);
    const checks = spyOnChecks();

    // Check 6 refuses on this replica's copy of the catalogue; a fresh copy of the same version confirms it.
    expectProblem(await call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Bo' }, account: newPhone(), message: { template: refused } }), 422, code);
    for (const [check, runs] of checks.counts()) expect(runs, check.name).toBeLessThanOrEqual(1);
    expect(checks.counts().get(templateFits)).toBe(1);
    expect(checks.counts().get(operatorAssigned)).toBe(1);

    checks.reset();
    expectProblem(await call(t.app, 'POST', `/sessions/${created.data.id}/messages`, { operatorId, template: refused }), 422, code);
    for (const [check, runs] of checks.counts()) expect(runs, check.name).toBeLessThanOrEqual(1);
    expect(checks.counts().get(templateFits)).toBe(1);
  });

  it('does not refuse on a stale cached catalogue a template the fresh one approves, and runs only check 6 again', async () => {
    const { liveChatId, operatorId } = await liveChatWithOperator(t.app, 'whatsapp');
    const initiate = () => call(t.app, 'POST', '/sessions', { liveChatId, operatorId, contact: { name: 'Ann' }, account: newPhone(), message: { template: fitting } });
    await syncElsewhere(liveChatId, [orderUpdate('PENDING')]);
    // This replica now holds the catalogue with the template pending.
    expectProblem(await initiate(), 422, 'template_not_approved');
    await syncElsewhere(liveChatId, [orderUpdate()]);
    const checks = spyOnChecks();

    const created = await initiate();
    expect(created.statusCode, created.body).toBe(201);
    const messages = await call(t.app, 'GET', `/sessions/${created.data.id}/messages`);
    expect(messages.data.items.map((m: { template: { name: string } | null }) => m.template?.name)).toEqual(['order_update']);
    // Refused on the cached copy, then held on the fresh one: the template check alone ran twice.
    expect(checks.counts().get(templateFits)).toBe(2);
    for (const [check, runs] of checks.counts()) if (check !== templateFits) expect(runs, check.name).toBeLessThanOrEqual(1);

    // The fresh copy is kept: the next request decides on it at once.
    checks.reset();
    expect((await initiate()).statusCode).toBe(201);
    expect(checks.counts().get(templateFits)).toBe(1);
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
