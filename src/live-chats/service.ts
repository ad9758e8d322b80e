import type { Kysely } from 'kysely';
import type { Database, LiveChatRow } from '../db/types.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import { normaliseEmail } from '../accounts/accounts.js';
import { type Channel, type ChannelInput, type LiveChat, joinChannel, splitChannel } from './model.js';
import * as repo from './repository.js';
import type { SecretBox } from './secret-box.js';

export type ChannelPatch = Partial<{
  type: Channel['type'];
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
  botToken: string;
  webhookSecret: string;
  address: string;
  smtp: Partial<{ host: string; port: number; secure: boolean; username: string; password: string }>;
  inboundSecret: string;
}>;

const FIELDS_BY_TYPE: Record<Channel['type'], readonly string[]> = {
  whatsapp: ['type', 'phoneNumberId', 'accessToken', 'appSecret', 'verifyToken'],
  telegram: ['type', 'botToken', 'webhookSecret'],
  email: ['type', 'address', 'smtp', 'inboundSecret'],
};

export const liveChatNotFound = (id: string) => new Refusal('live_chat_not_found', `Live chat ${id} does not exist.`);

/** Live chats and their operators; channel secrets are sealed before they reach the database. */
export class LiveChatService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretBox,
  ) {}

  /** Maps a stored row to the domain object, opening its sealed secrets. */
  toLiveChat(row: LiveChatRow): LiveChat {
    return {
      id: row.id,
      name: row.name,
      channel: joinChannel(row.channel_type, row.channel_settings, this.secrets.open(row.channel_secrets)),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Creates a live chat; throws validation_failed for a malformed inbox address. */
  async create(input: { name: string; channel: ChannelInput }): Promise<LiveChat> {
    const channel = normaliseChannel(input.channel);
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

  async list(): Promise<LiveChat[]> {
    return (await repo.listLiveChats(this.db)).map((row) => this.toLiveChat(row));
  }

  /**
   * Changes the name and channel fields; the channel type is fixed once created (sessions and
   * contacts on the channel depend on it). Secrets left out of the patch are kept.
   */
  async update(id: string, patch: { name?: string; channel?: ChannelPatch }): Promise<LiveChat> {
    return this.db.transaction().execute(async (trx) => {
      const row = await repo.findLiveChatForUpdate(trx, id);
      if (!row) throw liveChatNotFound(id);
      const current = this.toLiveChat(row);
      let channel = current.channel;
      if (patch.channel) {
        const allowed = FIELDS_BY_TYPE[current.channel.type];
        const foreign = Object.keys(patch.channel).filter((k) => !allowed.includes(k));
        if (patch.channel.type !== undefined && patch.channel.type !== current.channel.type) {
          throw new Refusal('channel_type_immutable', 'A live chat keeps its channel type; create another live chat instead.');
        }
        if (foreign.length > 0) {
          throw validationFailed(
            foreign.map((k) => ({ field: `/channel/${k}`, code: 'unknown_field', message: `${k} does not apply to a ${current.channel.type} channel.` })),
          );
        }
        channel = mergeChannel(current.channel, patch.channel);
      }
      const { settings, secrets } = splitChannel(normaliseChannel(channel));
      const updated = await repo.updateLiveChat(trx, id, {
        name: patch.name ?? current.name,
        settings,
        sealedSecrets: this.secrets.seal(secrets),
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

function mergeChannel(current: Channel, patch: ChannelPatch): Channel {
  if (current.type === 'email') {
    const { smtp, ...rest } = patch;
    return { ...current, ...(rest as Partial<Channel>), smtp: { ...current.smtp, ...smtp } } as Channel;
  }
  return { ...current, ...(patch as Partial<Channel>) } as Channel;
}

function normaliseChannel(channel: ChannelInput): Channel {
  if (channel.type !== 'email') return channel;
  const address = normaliseEmail(channel.address);
  if (!address.ok) throw validationFailed([{ field: '/channel/address', ...address.error }]);
  return { ...channel, address: address.value, smtp: { ...channel.smtp, secure: channel.smtp.secure ?? channel.smtp.port === 465 } };
}
