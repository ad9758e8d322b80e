import type { Kysely } from 'kysely';
import { findChannelContactByAccount } from '../channel-contacts/repository.js';
import { findContact } from '../contacts/repository.js';
import type { Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import { isOperatorAssigned } from '../live-chats/repository.js';
import { peerOf } from '../accounts/peer.js';
import type { Ask, FactName, Facts, Reach, SessionFact } from './checks.js';
import { findOpenSession, findSession } from './repository.js';
import { isOptedOut } from '../consent/repository.js';
import type { TemplateLookup } from '../templates/service.js';
import { consentKeys } from './consent-check.js';

/** The live chats' channel types, as LiveChatService keeps them (cached: they never change). */
export interface LiveChatDirectory {
  channelTypeOf(id: string): Promise<ChannelType | undefined>;
}

/** The live chats' template catalogues, as TemplateService keeps them (cached unless `fresh`). */
export interface TemplateCatalogues {
  lookup(liveChatId: string, template: { name: string; language: string }, options: { fresh?: boolean }): Promise<TemplateLookup>;
}

/**
 * Loads the facts the checks ask for, each with one query (several at once). The account and
 * the person come from what the checks established before asking (`reach`).
 */
export class FactLoader {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatDirectory,
    private readonly templates: TemplateCatalogues,
  ) {}

  /**
   * The named facts for the decision, given what it knows (`known`: facts loaded earlier).
   * With `fresh`, none comes from a cache that another replica's changes may not have reached.
   */
  async load(names: readonly FactName[], decision: { ask: Ask; reach: Readonly<Reach>; facts: Readonly<Facts> }, options: { fresh?: boolean } = {}): Promise<Facts> {
    const entries = await Promise.all(names.map(async (name) => [name, await this.#load(name, decision.ask, decision.reach, decision.facts, options)] as const));
    return Object.fromEntries(entries) as Facts;
  }

  async #load(name: FactName, ask: Ask, reach: Readonly<Reach>, known: Readonly<Facts>, options: { fresh?: boolean }): Promise<Facts[FactName]> {
    switch (name) {
      case 'liveChat': {
        const liveChatId = (ask as { liveChatId: string }).liveChatId;
        const channel = await this.liveChats.channelTypeOf(liveChatId);
        return channel ? { id: liveChatId, channel } : null;
      }
      case 'session': {
        const row = await findSession(this.db, (ask as { sessionId: string }).sessionId);
        return row ? sessionFact(row) : null;
      }
      case 'operatorAssigned':
        return isOperatorAssigned(this.db, reach.liveChatId!, ask.operatorId!);
      case 'contact': {
        const row = await findContact(this.db, (ask as { contactId: string }).contactId);
        return row ? { phones: row.phones, emails: row.emails } : null;
      }
      case 'channelContact': {
        const row = await findChannelContactByAccount(this.db, reach.liveChatId!, reach.account!.value, reach.channel!);
        return row ? { externalUserId: row.external_user_id, lastInboundAt: row.last_inbound_at } : null;
      }
      case 'holderId': {
        const account = reach.account!;
        const contactId = ask.kind === 'create' ? (ask.contactId ?? undefined) : known.session?.contactId;
        const holder = await findOpenSession(this.db, reach.liveChatId!, { account: account.value, contactId, peer: reach.peer ?? peerOf(reach.channel!, account) });
        return holder?.id ?? null;
      }
      case 'template':
        return this.templates.lookup(reach.liveChatId!, ask.message!.template!, options);
      case 'optedOut':
        return isOptedOut(this.db, reach.liveChatId!, consentKeys(reach, known));
    }
  }
}

export function sessionFact(row: { id: string; live_chat_id: string; channel: ChannelType; contact_id: string; account: string; peer: string; status: 'open' | 'closed' }): SessionFact {
  return { id: row.id, liveChatId: row.live_chat_id, channel: row.channel, contactId: row.contact_id, account: row.account, peer: row.peer, status: row.status };
}
