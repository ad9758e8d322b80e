import { createHmac } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { JsonResponse } from '../support/app.js';

// Builders and senders for provider webhook deliveries, shaped like the real ones
// (shared/channels.md). Requests go through app.inject with the exact bytes given.

export const TELEGRAM_SECRET = 'telegram-webhook-secret';
export const WHATSAPP_APP_SECRET = 'whatsapp-app-secret';
export const WHATSAPP_VERIFY_TOKEN = 'whatsapp-verify-token';
export const WHATSAPP_PHONE_NUMBER_ID = '106540352242922';

let updateCounter = 100_000;
// Telegram numbers a chat's messages in both directions from one counter; the stand-in numbers the
// bot's from 1, so the people's here come from a range of their own.
let messageCounter = 500_000;

/** A fresh update_id. */
export const nextUpdateId = () => updateCounter++;

export const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

export interface TelegramPerson {
  id: number;
  username?: string;
  firstName?: string;
}

/** A Telegram Update with a message from `person` in their private chat with the bot. */
export function telegramMessage(person: TelegramPerson, content: { text?: string; contact?: Record<string, unknown> }, options: { updateId?: number; date?: Date } = {}) {
  return {
    update_id: options.updateId ?? nextUpdateId(),
    message: {
      message_id: messageCounter++,
      from: { id: person.id, is_bot: false, first_name: person.firstName ?? 'Ann', ...(person.username ? { username: person.username } : {}), language_code: 'en' },
      chat: { id: person.id, first_name: person.firstName ?? 'Ann', ...(person.username ? { username: person.username } : {}), type: 'private' },
      date: unixSeconds(options.date ?? new Date()),
      ...content,
    },
  };
}

/** The update Telegram sends when the person presses a `request_contact` button. */
export function telegramSharedContact(person: TelegramPerson, phoneNumber: string, options: { userId?: number; updateId?: number; date?: Date } = {}) {
  return telegramMessage(person, { contact: { phone_number: phoneNumber, first_name: person.firstName ?? 'Ann', user_id: options.userId ?? person.id } }, options);
}

export async function postTelegram(
  app: App,
  liveChatId: string,
  update: unknown,
  options: { secret?: string | null; contentType?: string } = {},
): Promise<JsonResponse> {
  const secret = options.secret === undefined ? TELEGRAM_SECRET : options.secret;
  const response = await app.inject({
    method: 'POST',
    url: `/webhooks/telegram/${liveChatId}`,
    headers: {
      'content-type': options.contentType ?? 'application/json',
      ...(secret !== null ? { 'x-telegram-bot-api-secret-token': secret } : {}),
    },
    payload: typeof update === 'string' ? update : JSON.stringify(update),
  });
  return withData(response);
}

/** An inbound WhatsApp text message as it appears in `value.messages[]`. */
export function whatsappText(waId: string, body: string, options: { id?: string; at?: Date } = {}) {
  return {
    from: waId,
    id: options.id ?? newWamid(),
    timestamp: String(unixSeconds(options.at ?? new Date())),
    type: 'text',
    text: { body },
  };
}

/** A status as it appears in `value.statuses[]`. */
export function whatsappStatus(wamid: string, status: string, options: { at?: Date; recipient?: string; errors?: unknown[] } = {}) {
  return {
    id: wamid,
    status,
    timestamp: String(unixSeconds(options.at ?? new Date())),
    recipient_id: options.recipient ?? '16505551234',
    ...(status === 'sent' || status === 'delivered' ? { conversation: { id: 'CONVERSATION_ID', origin: { type: 'service' } }, pricing: { billable: true, pricing_model: 'CBP', category: 'service' } } : {}),
    ...(options.errors ? { errors: options.errors } : {}),
  };
}

export function newWamid(): string {
  return `wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQz${Date.now().toString(36).toUpperCase()}${(messageCounter++).toString(36).toUpperCase()}AA==`;
}

/** One change of a notification. */
export function whatsappChange(value: { messages?: unknown[]; statuses?: unknown[]; contacts?: unknown[] }, phoneNumberId = WHATSAPP_PHONE_NUMBER_ID) {
  return {
    field: 'messages',
    value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
      ...value,
    },
  };
}

/** A notification with one entry per list of changes. */
export function whatsappNotification(...entries: ReturnType<typeof whatsappChange>[][]) {
  return { object: 'whatsapp_business_account', entry: entries.map((changes) => ({ id: '102290129340398', changes })) };
}

/** `sha256=<hex HMAC-SHA256(secret, body)>`, as Meta signs. */
export function hubSignature(body: string | Buffer, secret = WHATSAPP_APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Posts the body's exact bytes, signed with the app secret unless another signature is given. */
export async function postWhatsApp(
  app: App,
  liveChatId: string,
  body: unknown,
  options: { signature?: string | null } = {},
): Promise<JsonResponse> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const signature = options.signature === undefined ? hubSignature(raw) : options.signature;
  const response = await app.inject({
    method: 'POST',
    url: `/webhooks/whatsapp/${liveChatId}`,
    headers: { 'content-type': 'application/json', ...(signature !== null ? { 'x-hub-signature-256': signature } : {}) },
    payload: raw,
  });
  return withData(response);
}

function withData(response: Awaited<ReturnType<App['inject']>>): JsonResponse {
  const data = /json/.test(String(response.headers['content-type'])) ? JSON.parse(response.body) : response.body;
  return Object.assign(response, { data }) as JsonResponse;
}
