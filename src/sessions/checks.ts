import { type Account, accountFitsChannel, defaultAccountKind } from '../accounts/accounts.js';
import { storedAccount } from '../accounts/peer.js';
import { Refusal } from '../domain/refusal.js';
import { notOptedOut } from './consent-check.js';
import { templateFits } from './template-check.js';

export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;

import type { Ask, Check, Reach } from './check-types.js';

export type { Ask, ChannelContactFact, Check, FactName, Facts, Reach, SessionFact } from './check-types.js';

const sessionIdOf = (ask: Ask) => (ask.kind === 'create' ? '' : ask.sessionId);
const channelOf = (reach: Reach) => reach.channel!;

/** Check 2 (create): the live chat exists. */
export const liveChatExists: Check = {
  name: 'live_chat',
  reads: () => ['liveChat'],
  run(ask, facts, reach) {
    if (!facts.liveChat) return new Refusal('live_chat_not_found', `Live chat ${(ask as { liveChatId: string }).liveChatId} does not exist.`);
    reach.liveChatId = facts.liveChat.id;
    reach.channel = facts.liveChat.channel;
  },
};

/** Reopen and send: the session exists; it names the live chat and how the person is reached. */
export const sessionExists: Check = {
  name: 'session',
  reads: () => ['session'],
  run(ask, facts, reach) {
    const session = facts.session;
    if (!session) return new Refusal('session_not_found', `Session ${sessionIdOf(ask)} does not exist.`);
    reach.liveChatId = session.liveChatId;
    reach.channel = session.channel;
    reach.account = storedAccount(session.account);
    reach.peer = session.peer;
  },
};

/** Check 3: the operator is assigned to the live chat (closing names one only optionally). */
export const operatorAssigned: Check = {
  name: 'operator',
  reads: (ask) => (ask.operatorId === undefined ? [] : ['operatorAssigned']),
  run(ask, facts, reach) {
    if (ask.operatorId !== undefined && !facts.operatorAssigned) {
      return new Refusal('operator_not_assigned', `Operator ${ask.operatorId} is not assigned to live chat ${reach.liveChatId}.`);
    }
  },
};

/** Check 4: a contact named by id exists. */
export const contactExists: Check = {
  name: 'contact',
  reads: (ask) => (ask.kind === 'create' && ask.contactId !== null ? ['contact'] : []),
  run(ask, facts) {
    if (ask.kind === 'create' && ask.contactId !== null && !facts.contact) return new Refusal('contact_not_found', `Contact ${ask.contactId} does not exist.`);
  },
};

/**
 * Check 5: the account that reaches the person fits the channel — the one given, or the
 * contact's only phone (messengers) or only email (inbox).
 */
export const accountFits: Check = {
  name: 'account',
  reads: (ask) => (ask.kind === 'create' && ask.account === undefined && ask.contactId !== null ? ['contact'] : []),
  run(ask, facts, reach) {
    if (ask.kind !== 'create') return;
    const channel = channelOf(reach);
    const given = ask.account;
    if (given) {
      if (!accountFitsChannel(given.kind, channel)) {
        const wants = channel === 'email' ? 'an email address' : channel === 'telegram' ? 'a phone number, @username or tg:<user id>' : 'a phone number';
        return new Refusal('account_channel_mismatch', `A ${channel} live chat reaches people by ${wants}, not by ${describeKind(given.kind)}.`);
      }
      reach.account = given;
      return;
    }
    const details = ask.inlineContact ?? facts.contact ?? { phones: [], emails: [] };
    const kind = defaultAccountKind(channel);
    const candidates = kind === 'phone' ? details.phones : details.emails;
    if (candidates.length !== 1) {
      const [one, many] = kind === 'phone' ? ['phone number', 'phone numbers'] : ['email address', 'email addresses'];
      return new Refusal(
        'account_required',
        candidates.length === 0 ? `The contact has no ${one}; give \`account\`.` : `The contact has ${candidates.length} ${many}; give \`account\` to pick one.`,
      );
    }
    reach.account = { kind, value: candidates[0]! };
  },
};

/** Check 5, the message's part: templates exist on WhatsApp only, subjects on email only. */
export const contentFits: Check = {
  name: 'content',
  reads: () => [],
  run(ask, _facts, reach) {
    const channel = channelOf(reach);
    if (ask.message?.template && channel !== 'whatsapp') {
      return new Refusal('template_not_supported', `Templates are a WhatsApp feature; send text on a ${channel} live chat.`);
    }
    if (ask.message?.subject !== undefined && channel !== 'email') {
      return new Refusal('subject_not_supported', `A subject is an email's; a ${channel} message has none.`);
    }
  },
};

/** Check 8: a Telegram bot cannot write first, so the person must have written to it. */
export const telegramPriorContact: Check = {
  name: 'telegram_prior_contact',
  reads: (_ask, reach) => (reach.channel === 'telegram' ? ['channelContact'] : []),
  run(_ask, facts, reach) {
    if (reach.channel !== 'telegram') return;
    const account = reach.account!;
    if (!facts.channelContact) {
      const how = account.kind === 'phone' ? ' and shared this phone number with it' : '';
      return new Refusal('telegram_no_prior_contact', `${account.value} has not written to this bot${how}; a Telegram bot cannot start a conversation.`);
    }
    reach.peer = `tg:${facts.channelContact.externalUserId}`;
  },
};

/** Check 9: WhatsApp takes free text only within 24 h of the person's last message; a template always. */
export const whatsAppWindow: Check = {
  name: 'whatsapp_window',
  reads: (ask, reach) => (reach.channel === 'whatsapp' && ask.message?.text !== undefined ? ['channelContact'] : []),
  run(ask, facts, reach) {
    if (reach.channel !== 'whatsapp' || ask.message?.text === undefined) return;
    const known = facts.channelContact;
    if (!known || ask.now.getTime() - known.lastInboundAt.getTime() > WHATSAPP_WINDOW_MS) {
      return new Refusal(
        'whatsapp_template_required',
        'WhatsApp accepts free text only within 24 hours of the person’s last message; send an approved template instead.',
      );
    }
  },
};

/** Reopen: only a closed session opens again. */
export const sessionClosed: Check = {
  name: 'session_closed',
  reads: () => ['session'],
  run(_ask, facts) {
    const session = facts.session!;
    if (session.status === 'open') return alreadyOpen(session.id);
  },
};

/** Send: messages go on open sessions only. */
export const sessionOpen: Check = {
  name: 'session_open',
  reads: () => ['session'],
  run(_ask, facts) {
    const session = facts.session!;
    if (session.status !== 'open') return new Refusal('session_not_open', `Session ${session.id} is closed; reopen it first.`);
  },
};

/** Check 10: no open session on the live chat with the same person (account, contact or peer). */
export const noOpenSession: Check = {
  name: 'open_session',
  reads: () => ['holderId'],
  run(_ask, facts) {
    if (facts.holderId) return alreadyOpen(facts.holderId);
  },
};

export const alreadyOpen = (existingSessionId: string) =>
  new Refusal('session_already_open', `An open session with this person already exists on this live chat: ${existingSessionId}.`, { existingSessionId });

/** The contract's checks 2–10 for each request, in the contract's order (6 and 7 in template-check.ts, consent-check.ts). */
export const CHECKS: Record<Ask['kind'], readonly Check[]> = {
  create: [liveChatExists, operatorAssigned, contactExists, accountFits, contentFits, templateFits, notOptedOut, telegramPriorContact, whatsAppWindow, noOpenSession],
  reopen: [sessionExists, operatorAssigned, sessionClosed, contentFits, templateFits, notOptedOut, telegramPriorContact, whatsAppWindow, noOpenSession],
  send: [sessionExists, operatorAssigned, sessionOpen, contentFits, templateFits, notOptedOut, whatsAppWindow],
  close: [sessionExists, operatorAssigned],
  assign: [sessionExists, operatorAssigned, sessionOpen],
};

function describeKind(kind: Account['kind']): string {
  return kind === 'email' ? 'an email address' : kind === 'username' ? 'a @username' : kind === 'telegram_user' ? 'a Telegram user id' : 'a phone number';
}
