import type { Account } from '../accounts/accounts.js';
import type { ChannelType } from '../domain/channel.js';
import type { MessageContent } from '../domain/message.js';
import type { Refusal } from '../domain/refusal.js';
import type { TemplateLookup } from '../templates/service.js';
import type { ContactDetails } from './formats.js';

// The vocabulary of the checks (checks.ts): what is asked, the facts they read, what they establish.

/** A stored session as the checks see it. */
export interface SessionFact {
  id: string;
  liveChatId: string;
  channel: ChannelType;
  contactId: string;
  account: string;
  peer: string;
  status: 'open' | 'closed';
}

/** Someone who wrote to the live chat's channel: the Telegram rule and the WhatsApp window. */
export interface ChannelContactFact {
  externalUserId: string;
  lastInboundAt: Date;
}

/** What the checks read, loaded before or while deciding; a fact left undefined is not loaded yet. */
export interface Facts {
  /** The live chat a new session is for (check 2); null when there is none. */
  liveChat?: { id: string; channel: ChannelType } | null;
  /** The session reopened or written on; null when there is none. */
  session?: SessionFact | null;
  operatorAssigned?: boolean;
  /** The existing contact named by `contactId` (check 4); null when there is none. */
  contact?: ContactDetails | null;
  /** Who wrote to the channel with the account (checks 8–9); null when nobody did. */
  channelContact?: ChannelContactFact | null;
  /** The open session that holds the same person on the live chat (check 10); null when none. */
  holderId?: string | null;
  /** The message's WhatsApp template in the live chat's catalogue (check 6). */
  template?: TemplateLookup;
  /** The person opted out of the live chat (check 7). */
  optedOut?: boolean;
}
export type FactName = keyof Facts;

/** What is asked, after check 1 (formats). */
export type Ask =
  | {
      kind: 'create';
      liveChatId: string;
      operatorId: string;
      contactId: string | null;
      inlineContact: ContactDetails | null;
      account: Account | undefined;
      message: MessageContent | undefined;
      now: Date;
    }
  | { kind: 'reopen'; sessionId: string; operatorId: string; message: MessageContent | undefined; now: Date }
  | { kind: 'send'; sessionId: string; operatorId: string; message: MessageContent; now: Date }
  | { kind: 'close'; sessionId: string; operatorId: string | undefined; message?: undefined; now: Date }
  | { kind: 'assign'; sessionId: string; operatorId: string; message?: undefined; now: Date };

/** What the checks establish on the way: where, and how the person is reached. */
export interface Reach {
  liveChatId?: string;
  channel?: ChannelType;
  account?: Account;
  /** The provider's identity of the person, which the one-open-session rule also keys on. */
  peer?: string;
}

/** One rule of the contract, as a pure function over loaded facts. */
export interface Check {
  readonly name: string;
  /** The facts it reads for this request, given what the checks before it established. */
  reads(ask: Ask, reach: Reach): readonly FactName[];
  /** The refusal, or undefined when the rule holds (it may then add to `reach`). */
  run(ask: Ask, facts: Facts, reach: Reach): Refusal | undefined;
}
