import type { Kysely, Transaction } from 'kysely';
import { whatsAppPeer } from '../accounts/accounts.js';
import { recordChannelContact } from '../channel-contacts/repository.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import type { MessageError } from '../domain/message.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import type { WhatsAppChannel } from '../live-chats/model.js';
import type { LiveChatService } from '../live-chats/service.js';
import { storeInboundMessage } from '../sessions/inbound.js';
import { eventTime } from './event-time.js';
import { recordProcessedEvent } from './inbound-repository.js';
import { type DeliveryStatus, applyOrKeepDeliveryStatus, compare } from './message-status-repository.js';
import type { WhatsAppInboundMessage, WhatsAppNotification, WhatsAppStatus } from './schemas.js';
import { isValidHubSignature, secretsMatch } from './signature.js';
import { webhookChannel } from './webhook-channel.js';
import { whatsAppInboundContent } from './whatsapp-content.js';
import type { InboundHooks } from './inbound-hooks.js';

export interface WhatsAppOutcome {
  /** Inbound messages recorded now; replays are not counted. */
  messages: number;
  /** Outbound messages whose status moved. */
  statuses: number;
}

const DELIVERY_STATUSES = new Set<string>(['sent', 'delivered', 'read', 'failed']);
const WA_ID = /^\d{6,15}$/;

/** WhatsApp Cloud API webhooks: the verification handshake, inbound messages and delivery statuses. */
export class WhatsAppWebhookService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
    private readonly clock: Clock,
    private readonly hooks: InboundHooks,
  ) {}

  /**
   * Meta's subscription handshake: returns `hub.challenge` when `hub.mode` is `subscribe` and
   * `hub.verify_token` matches the live chat's verifyToken. Throws 404 live_chat_not_found,
   * 403 verification_failed, or 400 when the challenge is missing.
   */
  async verifySubscription(liveChatId: string, query: { mode?: string | undefined; verifyToken?: string | undefined; challenge?: string | undefined }): Promise<string> {
    const channel = await webhookChannel(this.liveChats, liveChatId, 'whatsapp');
    if (query.mode !== 'subscribe' || !channel.verifyToken || !secretsMatch(query.verifyToken, channel.verifyToken)) {
      throw new Refusal('verification_failed', 'hub.mode must be `subscribe` and hub.verify_token must match this live chat’s verify token.');
    }
    if (query.challenge === undefined) {
      throw validationFailed([{ field: '/hub.challenge', code: 'required', message: 'hub.challenge is required.' }]);
    }
    return query.challenge;
  }

  /**
   * Checks `X-Hub-Signature-256` over the exact raw body with the live chat's appSecret, in
   * constant time, and returns the channel. Throws 404 live_chat_not_found and 401
   * invalid_signature (wrong, missing, or no app secret configured).
   */
  async authenticate(liveChatId: string, rawBody: Buffer, signature: string | undefined): Promise<WhatsAppChannel> {
    const channel = await webhookChannel(this.liveChats, liveChatId, 'whatsapp');
    if (!channel.appSecret || !isValidHubSignature(rawBody, signature, channel.appSecret)) {
      throw new Refusal('invalid_signature', 'X-Hub-Signature-256 is not the HMAC-SHA256 of this body with the live chat’s app secret.');
    }
    return channel;
  }

  /**
   * Applies a whole notification (every entry and change) in one short transaction. Inbound
   * messages of every type record the sender in channel_contacts, which opens their 24-hour
   * window, and are stored on the person's open session, else on a new one in the queue (see
   * storeInboundMessage); a wamid seen before changes nothing. Statuses move
   * outbound messages forwards only. Changes for another phone number are ignored. Safe to retry.
   */
  async handleNotification(liveChatId: string, channel: WhatsAppChannel, notification: WhatsAppNotification): Promise<WhatsAppOutcome> {
    await this.hooks.templates.applyStatusWebhook(liveChatId, channel, notification);
    const changes = notification.entry
      .flatMap((entry) => entry.changes)
      .filter((change) => change.field === 'messages' && (change.value.metadata?.phone_number_id ?? channel.phoneNumberId) === channel.phoneNumberId);
    // A fixed order (person, then event) takes row locks in the same order in concurrent
    // deliveries, and applies one message's statuses as they happened.
    const inbound = changes.flatMap((c) => c.value.messages ?? []).sort((a, b) => compare(a.from, b.from) || compare(a.id, b.id));
    // The people's WhatsApp names, which name a contact created for a first message.
    const profiles = new Map(changes.flatMap((c) => (c.value.contacts ?? []).map((p) => [p.wa_id ?? '', p.profile?.name ?? ''] as const)));
    const statuses = changes.flatMap((c) => c.value.statuses ?? []).sort((a, b) => compare(a.id, b.id) || Number(a.timestamp) - Number(b.timestamp));
    if (inbound.length === 0 && statuses.length === 0) return { messages: 0, statuses: 0 };

    return this.db.transaction().execute(async (trx) => {
      const outcome: WhatsAppOutcome = { messages: 0, statuses: 0 };
      for (const message of inbound) if (await this.#recordInbound(trx, liveChatId, message, profiles.get(message.from))) outcome.messages++;
      for (const status of statuses) if (await this.#applyStatus(trx, liveChatId, status)) outcome.statuses++;
      return outcome;
    });
  }

  async #recordInbound(trx: Transaction<Database>, liveChatId: string, message: WhatsAppInboundMessage, profileName: string | undefined): Promise<boolean> {
    if (!WA_ID.test(message.from)) return false;
    if (!(await recordProcessedEvent(trx, liveChatId, `wa:${message.id}`, this.clock.now()))) return false;
    const at = eventTime(message.timestamp, this.clock);
    // The E.164 number in the form WhatsApp sessions keep as their peer (a wa_id may be in an
    // older numbering).
    const phone = whatsAppPeer(`+${message.from}`);
    await recordChannelContact(trx, { liveChatId, externalUserId: message.from, phone, at });
    const person = { liveChatId, channel: 'whatsapp' as const, account: phone, peer: phone, name: profileName || phone, detail: { column: 'phones' as const, value: phone } };
    const content = whatsAppInboundContent(message);
    await this.hooks.consent.fromMessage(trx, { liveChatId, channel: 'whatsapp', account: phone, text: content.text });
    await storeInboundMessage(trx, person, { ...content, subject: null, providerMessageId: message.id, at });
    return true;
  }

  /** True when the status moved its message. One for a message whose wamid is not recorded yet is kept for later. */
  async #applyStatus(trx: Transaction<Database>, liveChatId: string, status: WhatsAppStatus): Promise<boolean> {
    if (!DELIVERY_STATUSES.has(status.status)) return false;
    const delivery = status.status as DeliveryStatus;
    const error = delivery === 'failed' ? failureOf(status) : null;
    const report = { status: delivery, error, reportedAt: eventTime(status.timestamp, this.clock), at: this.clock.now() };
    return (await applyOrKeepDeliveryStatus(trx, liveChatId, status.id, report)) === 'moved';
  }
}

/** The provider's reason for a failed status: its code and text. */
function failureOf(status: WhatsAppStatus): MessageError {
  const first = status.errors?.[0];
  if (!first) return { code: 'whatsapp_unknown', message: 'WhatsApp reported the message as failed without a reason.' };
  const parts = [first.title ?? first.message, first.error_data?.details].filter((p): p is string => Boolean(p));
  // The same code the dispatcher records when the provider refuses synchronously.
  return { code: `whatsapp_${first.code}`, message: [...new Set(parts)].join(': ') || 'Delivery failed.' };
}
