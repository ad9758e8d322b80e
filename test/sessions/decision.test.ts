import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Ask,
  CHECKS,
  type Check,
  type FactName,
  type Facts,
  accountFits,
  contactExists,
  contentFits,
  noOpenSession,
  operatorAssigned,
  telegramPriorContact,
  whatsAppWindow,
} from '../../src/sessions/checks.js';
import { notOptedOut } from '../../src/sessions/consent-check.js';
import { templateFits } from '../../src/sessions/template-check.js';
import { Decision, type Step } from '../../src/sessions/decision.js';

// The rules as pure functions over facts: no database here. Facts are handed to the decision
// when it asks for them, as the pipeline's loader would.

const NOW = new Date('2026-11-30T12:00:00Z');
const HOUR = 60 * 60 * 1000;
const PHONE = { kind: 'phone', value: '+4915123456789' } as const;
const template = { name: 'order_update', language: 'en_US' };

function create(overrides: Partial<Extract<Ask, { kind: 'create' }>> = {}): Ask {
  return { kind: 'create', liveChatId: 'lc-1', operatorId: 'op-1', contactId: null, inlineContact: { phones: [], emails: [] }, account: PHONE, message: { template }, now: NOW, ...overrides };
}

/** Facts under which a WhatsApp initiation passes every check. */
const passing: Required<Facts> = {
  liveChat: { id: 'lc-1', channel: 'whatsapp' },
  session: null,
  operatorAssigned: true,
  contact: { phones: [PHONE.value], emails: [] },
  channelContact: { externalUserId: '4915123456789', lastInboundAt: new Date(NOW.getTime() - HOUR) },
  holderId: null,
  template: { catalogueVersion: 0, entry: null, cached: false },
  optedOut: false,
};

/** A synced catalogue's entry for the template of create(). */
const approved = { name: 'order_update', language: 'en_US', status: 'APPROVED', category: 'UTILITY', bodyParameters: 0, header: null, buttons: [] };
const synced = (entry: object | null) => ({ template: { catalogueVersion: 4, entry: entry as typeof approved | null, cached: false } });

/** Runs the decision to its end, answering each request for facts from `facts`; returns the last step and what was asked. */
function decide(decision: Decision, facts: Facts): { step: Step; asked: FactName[][] } {
  const asked: FactName[][] = [];
  for (;;) {
    const step = decision.step();
    if (step.outcome !== 'load') return { step, asked };
    asked.push([...step.facts]);
    decision.supply(Object.fromEntries(step.facts.map((name) => [name, facts[name]])));
  }
}

const refusalOf = (step: Step) => (step.outcome === 'refused' ? step.refusal.code : step.outcome);
const GUARDED = [operatorAssigned.name, contactExists.name, notOptedOut.name, noOpenSession.name];

afterEach(() => vi.restoreAllMocks());

describe('deciding an initiation over loaded facts', () => {
  it('decides when every rule holds, naming the account and the person', () => {
    const { step } = decide(new Decision(create()), passing);
    expect(step).toMatchObject({ outcome: 'decided', reach: { liveChatId: 'lc-1', channel: 'whatsapp', account: PHONE, peer: PHONE.value }, guards: [] });
  });

  it('names a Telegram person by their user id, known from the webhook', () => {
    const facts = { ...passing, liveChat: { id: 'lc-1', channel: 'telegram' as const }, channelContact: { externalUserId: '777', lastInboundAt: NOW } };
    const { step } = decide(new Decision(create({ message: { text: 'Hi' } })), facts);
    expect(step).toMatchObject({ outcome: 'decided', reach: { peer: 'tg:777' } });
  });

  it.each([
    ['an unknown live chat (2) before an unassigned operator (3)', { liveChat: null, operatorAssigned: false }, 'live_chat_not_found'],
    ['an unassigned operator (3) before an unknown contact (4)', { operatorAssigned: false, contact: null }, 'operator_not_assigned'],
    ['an unknown contact (4) before an account that does not fit (5)', { contact: null }, 'contact_not_found', { contactId: 'c-1', account: { kind: 'email', value: 'a@b.example' } }],
    ['an account that does not fit (5) before a person who never wrote (9)', { channelContact: null }, 'account_channel_mismatch', { account: { kind: 'username', value: '@ann_b' } }],
    ['a template off WhatsApp (5) before a Telegram person who never wrote (8)', { liveChat: { id: 'lc-1', channel: 'telegram' }, channelContact: null }, 'template_not_supported'],
    ['a template the synced catalogue lacks (6) before an opted-out person (7)', { ...synced(null), optedOut: true }, 'template_not_found'],
    ['a template not approved (6)', synced({ ...approved, status: 'PAUSED' }), 'template_not_approved'],
    ['parameters that do not fit the template (6)', synced({ ...approved, bodyParameters: 1 }), 'template_parameters_mismatch'],
    ['an opted-out person (7) before a Telegram person who never wrote (8)', { liveChat: { id: 'lc-1', channel: 'telegram' }, channelContact: null, optedOut: true }, 'contact_opted_out', { message: { text: 'Hi' } }],
    ['an opted-out person (7) before the WhatsApp window (9)', { channelContact: null, optedOut: true }, 'contact_opted_out', { message: { text: 'Hi' } }],
    ['the Telegram rule (8) before an open session (10)', { liveChat: { id: 'lc-1', channel: 'telegram' }, channelContact: null, holderId: 's-1' }, 'telegram_no_prior_contact', { message: { text: 'Hi' } }],
    ['the WhatsApp window (9) before an open session (10)', { channelContact: null, holderId: 's-1' }, 'whatsapp_template_required', { message: { text: 'Hi' } }],
    ['an open session (10) last', { holderId: 's-1' }, 'session_already_open'],
  ] as const)('refuses %s', (_what, facts, code, ask?: object) => {
    const { step } = decide(new Decision(create(ask as Partial<Extract<Ask, { kind: 'create' }>>)), { ...passing, ...facts } as Facts);
    expect(refusalOf(step)).toBe(code);
  });

  it('allows free text only within 24 hours of the person’s last message, and a template always', () => {
    const text = create({ message: { text: 'Hi' } });
    const lastWrote = (ago: number) => ({ ...passing, channelContact: { externalUserId: '49', lastInboundAt: new Date(NOW.getTime() - ago) } });
    expect(refusalOf(decide(new Decision(text), lastWrote(23 * HOUR)).step)).toBe('decided');
    expect(refusalOf(decide(new Decision(text), lastWrote(25 * HOUR)).step)).toBe('whatsapp_template_required');
    expect(refusalOf(decide(new Decision(create()), lastWrote(25 * HOUR)).step)).toBe('decided');
  });

  it('takes the contact’s only phone when no account is given, and refuses none or several', () => {
    const ask = create({ contactId: 'c-1', inlineContact: null, account: undefined });
    const one = decide(new Decision(ask, { guarded: GUARDED, facts: { liveChat: passing.liveChat, template: passing.template } }), passing);
    expect(one.asked).toEqual([['contact']]);
    expect(one.step).toMatchObject({ outcome: 'decided', reach: { account: PHONE } });
    expect(refusalOf(decide(new Decision(ask), { ...passing, contact: { phones: [], emails: ['a@b.example'] } }).step)).toBe('account_required');
    expect(refusalOf(decide(new Decision(ask), { ...passing, contact: { phones: [PHONE.value, '+4915199999999'], emails: [] } }).step)).toBe('account_required');
  });
});

describe('checks the write guards itself', () => {
  it('are left to the write: the common case reads nothing but what it must', () => {
    const { step, asked } = decide(new Decision(create(), { guarded: GUARDED, facts: { liveChat: passing.liveChat } }), passing);
    // The template's catalogue entry comes from a cache; nothing else is read.
    expect(asked).toEqual([['template']]);
    expect(step).toMatchObject({ outcome: 'decided', guards: ['operatorAssigned', 'optedOut', 'holderId'] });
  });

  it('say why a guarded write wrote nothing, once their facts are loaded', () => {
    const decision = new Decision(create(), { guarded: GUARDED, facts: { liveChat: passing.liveChat, template: passing.template } });
    expect(decision.step().outcome).toBe('decided');
    decision.supply({ operatorAssigned: true, optedOut: false, holderId: 's-9' });
    const step = decision.step();
    expect(step).toMatchObject({ outcome: 'refused', refusal: { code: 'session_already_open', extensions: { existingSessionId: 's-9' } } });
  });

  it('come first when a later check refuses: their facts are loaded and their refusal wins', () => {
    const ask = create({ message: { text: 'Hi' } });
    const { step, asked } = decide(new Decision(ask, { guarded: GUARDED, facts: { liveChat: passing.liveChat } }), { ...passing, operatorAssigned: false, channelContact: null });
    expect(asked).toEqual([['channelContact'], ['operatorAssigned', 'optedOut']]);
    expect(refusalOf(step)).toBe('operator_not_assigned');
  });

  it('let the later refusal stand when they hold', () => {
    const ask = create({ message: { text: 'Hi' } });
    const { step } = decide(new Decision(ask, { guarded: GUARDED, facts: { liveChat: passing.liveChat } }), { ...passing, channelContact: null });
    expect(refusalOf(step)).toBe('whatsapp_template_required');
  });

  it('are never left to the write when it does not guard them', () => {
    const { asked } = decide(new Decision(create(), { facts: { liveChat: passing.liveChat } }), passing);
    expect(asked).toEqual([['operatorAssigned'], ['template'], ['optedOut'], ['holderId']]);
  });
});

describe('each check runs at most once per decision', () => {
  const every = [...new Set(Object.values(CHECKS).flat())];
  const spies = () => new Map(every.map((check: Check) => [check, vi.spyOn(check, 'run')]));

  it.each([
    ['refused behind deferred checks', { operatorAssigned: false, channelContact: null }, 'operator_not_assigned'],
    ['refused after deferred checks held', { channelContact: null }, 'whatsapp_template_required'],
    ['refused when the guarded write wrote nothing', { holderId: 's-1' }, 'session_already_open'],
    ['decided', {}, 'decided'],
  ] as const)('%s', (_what, facts, outcome) => {
    const calls = spies();
    const world: Facts = { ...passing, ...facts };
    const decision = new Decision(create({ message: { text: 'Hi' } }), { guarded: GUARDED, facts: { liveChat: passing.liveChat } });
    let { step } = decide(decision, world);
    if (step.outcome === 'decided' && outcome !== 'decided') {
      // The guarded write wrote nothing: the facts of the checks it stood in for are loaded.
      decision.supply(Object.fromEntries(step.guards.map((name) => [name, world[name]])));
      ({ step } = decide(decision, world));
    }
    expect(refusalOf(step)).toBe(outcome);
    for (const [check, spy] of calls) expect(spy.mock.calls.length, check.name).toBeLessThanOrEqual(1);
  });

  it('but the refused check, reconsidered on a fresher fact: it alone runs again, and deciding goes on from it', () => {
    const calls = spies();
    const decision = new Decision(create(), { guarded: GUARDED, facts: { liveChat: passing.liveChat } });
    const cached = { template: { ...synced({ ...approved, status: 'PENDING' }).template, cached: true } };
    expect(refusalOf(decide(decision, { ...passing, ...cached }).step)).toBe('template_not_approved');
    decision.reconsider({ template: { ...synced(approved).template, catalogueVersion: 5 } });
    const { step, asked } = decide(decision, passing);
    expect(step).toMatchObject({ outcome: 'decided', guards: ['optedOut', 'holderId'] });
    expect(asked).toEqual([]);
    expect(decision.facts.template?.catalogueVersion).toBe(5);
    // Checks 7 and 10 are left to the write; every other check of creation ran once, check 6 twice.
    const runs = (check: Check) => (check === templateFits ? 2 : CHECKS.create.includes(check) && check !== notOptedOut && check !== noOpenSession ? 1 : 0);
    for (const [check, spy] of calls) expect(spy.mock.calls.length, check.name).toBe(runs(check));
  });
});

describe('one set of rules for every route', () => {
  it('creation, reopening and sending share the same rule functions', () => {
    for (const check of [operatorAssigned, contentFits, templateFits, notOptedOut, whatsAppWindow]) {
      expect(CHECKS.create).toContain(check);
      expect(CHECKS.reopen).toContain(check);
      expect(CHECKS.send).toContain(check);
    }
    for (const check of [telegramPriorContact, noOpenSession]) {
      expect(CHECKS.create).toContain(check);
      expect(CHECKS.reopen).toContain(check);
    }
    expect(CHECKS.create).toContain(accountFits);
  });

  it('refuses a template on an inbox by the same check on create, reopen and send', () => {
    const session = { id: 's-1', liveChatId: 'lc-1', channel: 'email' as const, contactId: 'c-1', account: 'a@b.example', peer: 'a@b.example', status: 'closed' as const };
    const spy = vi.spyOn(contentFits, 'run');
    const facts = { ...passing, liveChat: { id: 'lc-1', channel: 'email' as const }, session };
    const email = { kind: 'email', value: 'a@b.example' } as const;
    expect(refusalOf(decide(new Decision(create({ account: email })), facts).step)).toBe('template_not_supported');
    expect(refusalOf(decide(new Decision({ kind: 'reopen', sessionId: 's-1', operatorId: 'op-1', message: { template }, now: NOW }), facts).step)).toBe('template_not_supported');
    const open = { ...facts, session: { ...session, status: 'open' as const } };
    expect(refusalOf(decide(new Decision({ kind: 'send', sessionId: 's-1', operatorId: 'op-1', message: { template }, now: NOW }), open).step)).toBe('template_not_supported');
    expect(spy.mock.calls.map(([ask]) => ask.kind)).toEqual(['create', 'reopen', 'send']);
  });
});
