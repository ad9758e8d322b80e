import type { Kysely } from 'kysely';
import type { Database, LiveChatRow } from '../db/types.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import { normaliseEmail } from '../accounts/accounts.js';
import { DEFAULT_SEND_RATE_PER_SECOND } from '../domain/channel.js';
import { type Channel, type ChannelInput, type LiveChat, joinChannel, splitChannel } from './model.js';
import { type ChannelPatch, patchChannel, withWebhookSecret } from './patch.js';
import * as repo from './repository.js';
import { type SecretBox, SecretsUnreadableError } from './secret-box.js';

export type { ChannelPatch } from './patch.js';

export const liveChatNotFound = (id: string) => new Refusal('live_chat_not_found', `Live chat ${id} does not exist.`);

/** Live chats and their operators; channel secrets are sealed before they reach the database. */
export class LiveChatService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * Maps a stored row to the domain object, opening its sealed secrets. Secrets no configured
   * key opens leave the channel without them and `secretsReadable` false, instead of failing:
   * the live chat still lists and reads.
   */
  toLiveChat(row: LiveChatRow): LiveChat {
    let secrets: Record<string, string> = {};
    let secretsReadable = true;
    try {
      secrets = this.secrets.open(row.channel_secrets);
    } catch (error) {
      if (!(error instanceof SecretsUnreadableError)) throw error;
      secretsReadable = false;
    }
    return {
      id: row.id,
      name: row.name,
      channel: joinChannel(row.channel_type, row.channel_settings, secrets),
      secretsReadable,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Creates a live chat; throws validation_failed for a malformed inbox address. A Telegram webhook secret is generated when none is given. */
  async create(input: { name: string; channel: ChannelInput }): Promise<LiveChat> {
    const channel = normaliseChannel(withWebhookSecret(input.channel));
    const { settings, secrets } = splitChannel(channel);
    const row = await repo.insertLiveChat(this.db, {
      name: input.name,
      channelType: channel.type,
      settings,
      sealedSecrets: this.secrets.seal(secrets),
    });
    return this.toLiveChat(row);
  }

  /**
   * The channel type of a live chat, or undefined when there is none. Cached: live chats are
   * never deleted and never change type, so a known answer stays true.
   */
  async channelTypeOf(id: string): Promise<Channel['type'] | undefined> {
    const known = this.#types.get(id);
    if (known) return known;
    const row = await repo.findLiveChat(this.db, id);
    if (!row) return undefined;
    if (this.#types.size >= 10_000) this.#types.clear();
    this.#types.set(id, row.channel_type);
    return row.channel_type;
  }

  readonly #types = new Map<string, Channel['type']>();

  /** Returns the live chat, or throws 404 live_chat_not_found. */
  async get(id: string, db: Kysely<Database> = this.db): Promise<LiveChat> {
    const row = await repo.findLiveChat(db, id);
    if (!row) throw liveChatNotFound(id);
    return this.toLiveChat(row);
  }

  /** The live chat for a use that needs its secrets: throws 404, or secrets_unreadable when they cannot be opened. */
  async usable(id: string): Promise<LiveChat> {
    const chat = await this.get(id);
    if (!chat.secretsReadable) {
      throw new Refusal('secrets_unreadable', `The channel secrets of live chat ${id} cannot be decrypted with the configured SECRETS_KEY.`);
    }
    return chat;
  }

  /** Outbound messages of the live chat waiting for delivery, those in flight included. */
  queuedMessages(id: string): Promise<number> {
    return repo.countQueuedMessages(this.db, id);
  }

  /** Every live chat, newest first; only those in `within` when it is given (a restricted API key). */
  async list(within: readonly string[] | null = null): Promise<LiveChat[]> {
    return (await repo.listLiveChats(this.db, within)).map((row) => this.toLiveChat(row));
  }

  /**
   * Changes the name and channel fields; the channel type is fixed once created (sessions and
   * contacts on the channel depend on it). Secrets left out of the patch are kept; see
   * patchChannel for the SMTP password and unreadable secrets.
   */
  async update(id: string, patch: { name?: string; channel?: ChannelPatch }): Promise<LiveChat> {
    return this.db.transaction().execute(async (trx) => {
      const row = await repo.findLiveChatForUpdate(trx, id);
      if (!row) throw liveChatNotFound(id);
      const current = this.toLiveChat(row);
      const { channel, keepSealedSecrets } = patch.channel
        ? patchChannel(current, patch.channel)
        : { channel: current.channel, keepSealedSecrets: !current.secretsReadable };
      const { settings, secrets } = splitChannel(normaliseChannel(channel));
      const updated = await repo.updateLiveChat(trx, id, {
        name: patch.name ?? current.name,
        settings,
        sealedSecrets: keepSealedSecrets ? row.channel_secrets : this.secrets.seal(secrets),
      });
      return this.toLiveChat(updated);
    });
  }

  async assignOperator(liveChatId: string, operatorId: string): Promise<void> {
    await this.get(liveChatId);
    await repo.assignOperator(this.db, liveChatId, operatorId);
  }

  async unassignOperator(liveChatId: string, operatorId: string): Promise<void> {
    await this.get(liveChatId);
    await repo.unassignOperator(this.db, liveChatId, operatorId);
  }

  async listOperators(liveChatId: string): Promise<{ operatorId: string; assignedAt: Date }[]> {
    await this.get(liveChatId);
    const rows = await repo.listOperators(this.db, liveChatId);
    return rows.map((r) => ({ operatorId: r.operator_id, assignedAt: r.assigned_at }));
  }
}

/** The channel as stored: an inbox address normalised, the send rate made explicit. */
function normaliseChannel(input: ChannelInput): Channel {
  const channel = { ...input, sendRatePerSecond: input.sendRatePerSecond ?? DEFAULT_SEND_RATE_PER_SECOND[input.type] };
  if (channel.type !== 'email') return channel;
  const address = normaliseEmail(channel.address);
  if (!address.ok) throw validationFailed([{ field: '/channel/address', ...address.error }]);
  return { ...channel, address: address.value, smtp: { ...channel.smtp, secure: channel.smtp.secure ?? channel.smtp.port === 465 } };
}
