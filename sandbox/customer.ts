import { createHash } from 'node:crypto';
import { normalisePhone } from '../src/accounts/accounts.js';
import type { App } from '../src/app.js';
import { validationFailed } from '../src/domain/refusal.js';
import { hubSignature, telegramMessage, telegramSharedContact, whatsappChange, whatsappNotification, whatsappText } from '../test/webhooks/providers.js';

export interface CustomerMessage {
  liveChatId: string;
  /** A phone number (WhatsApp, Telegram) or a Telegram `@username`. */
  from: string;
  text: string;
  /** The name the provider shows for the person. */
  name?: string | undefined;
}

/**
 * Plays the customer: sends the service the webhook the provider would send when this person
 * writes to the live chat, signed with the live chat's own secret, and returns the webhook's
 * answer. On Telegram, a phone number is shared with the bot first (as with a request_contact
 * button), so that the person is known by that number.
 */
export async function customerWrites(app: App, message: CustomerMessage): Promise<{ status: number; body: unknown }> {
  const chat = await app.services.liveChats.usable(message.liveChatId);
  const channel = chat.channel;
  const name = message.name ?? 'Sandbox Customer';
  if (channel.type === 'whatsapp') {
    if (!channel.appSecret) throw validationFailed([{ field: '/liveChatId', code: 'app_secret_required', message: 'The live chat needs an appSecret to receive signed webhooks.' }]);
    const waId = phoneDigits(message.from);
    const change = whatsappChange({ contacts: [{ profile: { name }, wa_id: waId }], messages: [whatsappText(waId, message.text)] }, channel.phoneNumberId);
    const body = JSON.stringify(whatsappNotification([change]));
    return post(app, `/webhooks/whatsapp/${chat.id}`, body, { 'x-hub-signature-256': hubSignature(body, channel.appSecret) });
  }
  if (channel.type === 'telegram') {
    const username = message.from.startsWith('@') ? message.from.slice(1) : undefined;
    const person = { id: telegramUserId(message.from), firstName: name, ...(username ? { username } : {}) };
    const headers = { 'x-telegram-bot-api-secret-token': channel.webhookSecret ?? '' };
    if (!username) {
      const shared = await post(app, `/webhooks/telegram/${chat.id}`, JSON.stringify(telegramSharedContact(person, phoneDigits(message.from))), headers);
      if (shared.status !== 200) return shared;
    }
    return post(app, `/webhooks/telegram/${chat.id}`, JSON.stringify(telegramMessage(person, { text: message.text })), headers);
  }
  throw validationFailed([{ field: '/liveChatId', code: 'channel_not_in_sandbox', message: 'The sandbox plays customers on WhatsApp and Telegram.' }]);
}

function phoneDigits(from: string): string {
  const phone = normalisePhone(from, 'possible');
  if (!phone.ok) throw validationFailed([{ field: '/from', ...phone.error }]);
  return phone.value.slice(1);
}

/** The same Telegram user id for the same `from`, every time. */
function telegramUserId(from: string): number {
  return 1_000_000_000 + (createHash('sha256').update(from.toLowerCase()).digest().readUInt32BE(0) % 1_000_000_000);
}

async function post(app: App, url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: body });
  return { status: response.statusCode, body: JSON.parse(response.body) as unknown };
}
