import type { Kysely } from 'kysely';
import { accountFitsChannel, parseAccount } from '../accounts/accounts.js';
import { peerOf } from '../accounts/peer.js';
import { type Keyset, type Page, pageOf } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import type { OptOutSource } from '../domain/consent.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import type { LiveChatService } from '../live-chats/service.js';
import { recordConsentChange } from './consent-change.js';
import { listOptOuts } from './repository.js';

export interface OptOut {
  account: string;
  source: OptOutSource;
  reason: string | null;
  createdAt: Date;
}

const TELEGRAM_USER = /^tg:\d{1,20}$/;

/** Opt-outs as the API manages them: listed, recorded (`source: api`) and lifted. */
export class ConsentService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
  ) {}

  /** Newest first; `account` is matched in its normalised form. Throws live_chat_not_found. */
  async list(liveChatId: string, query: { account?: string | undefined; limit: number; after?: Keyset | undefined }): Promise<Page<OptOut>> {
    const channel = await this.#channelOf(liveChatId);
    const account = query.account === undefined ? undefined : consentAccount(channel, query.account, '/account');
    const page = pageOf(await listOptOuts(this.db, liveChatId, { ...query, account }), query.limit);
    return { items: page.items.map((r) => ({ account: r.account, source: r.source, reason: r.reason, createdAt: r.created_at })), next: page.next };
  }

  /** Opts the person out of the live chat (their queued messages fail). Idempotent; a new reason replaces the old one. */
  async optOut(liveChatId: string, accountInput: string, reason: string | null): Promise<void> {
    const account = consentAccount(await this.#channelOf(liveChatId), accountInput, '/account');
    await this.db.transaction().execute((trx) => recordConsentChange(trx, { kind: 'opted_out', liveChatId, account, source: 'api', reason }));
  }

  /** Opts the person back in, whatever opted them out. Idempotent. */
  async optIn(liveChatId: string, accountInput: string): Promise<void> {
    const account = consentAccount(await this.#channelOf(liveChatId), accountInput, '/account');
    await this.db.transaction().execute((trx) => recordConsentChange(trx, { kind: 'opted_in', liveChatId, account, source: 'api' }));
  }

  async #channelOf(liveChatId: string): Promise<ChannelType> {
    const channel = await this.liveChats.channelTypeOf(liveChatId);
    if (!channel) throw new Refusal('live_chat_not_found', `Live chat ${liveChatId} does not exist.`);
    return channel;
  }
}

/**
 * The account an opt-out is kept under: the normalised account in the form the live chat's
 * sessions know the person by (a WhatsApp number in today's form, an email lower-cased), or a
 * Telegram user as `tg:<user id>`. 400 for a malformed one, 422 for one of another channel.
 */
export function consentAccount(channel: ChannelType, input: string, pointer: string): string {
  const trimmed = input.trim();
  if (TELEGRAM_USER.test(trimmed)) {
    if (channel === 'telegram') return trimmed;
    throw new Refusal('account_channel_mismatch', `A Telegram user id does not reach anyone on a ${channel} live chat.`);
  }
  const parsed = parseAccount(trimmed);
  if (!parsed.ok) throw validationFailed([{ field: pointer, ...parsed.error }]);
  if (!accountFitsChannel(parsed.value.kind, channel)) {
    throw new Refusal('account_channel_mismatch', `${parsed.value.value} does not reach anyone on a ${channel} live chat.`);
  }
  return peerOf(channel, parsed.value);
}
