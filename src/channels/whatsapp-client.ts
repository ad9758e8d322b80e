import type { MessageTemplate } from '../domain/message.js';
import type { LiveChat } from '../live-chats/model.js';
import {
  type ChannelClient,
  type OutboundMessage,
  type SendFailure,
  type SendResult,
  permanent,
  sent,
  transient,
  wrongChannel,
} from './channel-client.js';
import { type JsonResponse, field, postJson } from './http-json.js';

export interface WhatsAppClientOptions {
  /** `WHATSAPP_API_BASE_URL`, without a trailing slash (e.g. `https://graph.facebook.com/v21.0`). */
  baseUrl: string;
  timeoutMs: number;
}

// Graph error codes worth retrying: unknown/temporary errors, rate and throughput limits.
const TRANSIENT_CODES = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131056]);
// Codes that stay permanent even when Graph pairs them with a 5xx.
// 132000: parameter count mismatch, 132001: no such template in that language, 132015/132016:
// template paused/disabled.
const PERMANENT_CODES = new Set([100, 190, 131026, 131030, 131047, 131051, 132000, 132001, 132015, 132016]);
// "Too many messages to one person (about one per 6 s)": back off longer for that person.
const PAIR_RATE_LIMIT_CODE = 131056;
const PAIR_RATE_LIMIT_WAIT_MS = 6_000;

/** WhatsApp Cloud API: `POST {base}/{phoneNumberId}/messages` with the live chat's bearer token. */
export class WhatsAppClient implements ChannelClient {
  constructor(private readonly options: WhatsAppClientOptions) {}

  async send(liveChat: LiveChat, message: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    const channel = liveChat.channel;
    if (channel.type !== 'whatsapp') return wrongChannel('WhatsApp', liveChat);
    const to = message.to.replace(/\D/g, '');
    const response = await postJson(`${this.options.baseUrl}/${encodeURIComponent(channel.phoneNumberId)}/messages`, whatsAppBody(to, message), {
      headers: { authorization: `Bearer ${channel.accessToken}` },
      timeoutMs: this.options.timeoutMs,
      signal,
    });
    if ('outcome' in response) return response;
    const id = field(response.body, 'messages', 0, 'id');
    if (response.status >= 200 && response.status < 300) {
      if (typeof id !== 'string' || id.length === 0) {
        // Accepted, but we cannot track it; a retry could send it twice.
        return permanent('whatsapp_invalid_response', `WhatsApp answered ${response.status} without a message id.`);
      }
      const waId = field(response.body, 'contacts', 0, 'wa_id');
      return sent(id, typeof waId === 'string' ? waId : to);
    }
    return classifyWhatsAppError(response);
  }
}

/** The request body for a text or a template message, as the Cloud API documents it. */
export function whatsAppBody(to: string, message: OutboundMessage): Record<string, unknown> {
  const { template, text } = message.content;
  if (template) {
    const components = templateComponents(template);
    return {
      messaging_product: 'whatsapp',
      to,
      type: 'template',
      template: { name: template.name, language: { code: template.language }, ...(components.length > 0 ? { components } : {}) },
    };
  }
  return { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { preview_url: false, body: text } };
}

/** A template's parameters as the Cloud API's components: header, body, then each button. */
export function templateComponents(template: MessageTemplate): Record<string, unknown>[] {
  const components: Record<string, unknown>[] = [];
  const { header, parameters = [], buttons = [] } = template;
  if (header?.type === 'text') components.push({ type: 'header', parameters: [{ type: 'text', text: header.text }] });
  else if (header) {
    const media = { link: header.link, ...(header.type === 'document' && header.filename !== undefined ? { filename: header.filename } : {}) };
    components.push({ type: 'header', parameters: [{ type: header.type, [header.type]: media }] });
  }
  if (parameters.length > 0) components.push({ type: 'body', parameters: parameters.map((p) => ({ type: 'text', text: p })) });
  for (const button of buttons) {
    const parameter =
      button.subType === 'url'
        ? { type: 'text', text: button.parameter }
        : button.subType === 'quick_reply'
          ? { type: 'payload', payload: button.parameter }
          : { type: 'coupon_code', coupon_code: button.parameter };
    components.push({ type: 'button', sub_type: button.subType, index: String(button.index), parameters: [parameter] });
  }
  return components;
}

/** Branches on Graph's `error.code` (not on the HTTP status, which is 400 for most errors). */
export function classifyWhatsAppError(response: Pick<JsonResponse, 'status' | 'body'>): SendFailure {
  const code = field(response.body, 'error', 'code');
  const details = field(response.body, 'error', 'error_data', 'details');
  const graphMessage = field(response.body, 'error', 'message');
  const message =
    [graphMessage, details].filter((part): part is string => typeof part === 'string' && part.length > 0).join(': ') ||
    `WhatsApp answered HTTP ${response.status}.`;
  if (typeof code !== 'number') {
    return response.status >= 500 || response.status === 429
      ? transient(`whatsapp_http_${response.status}`, message)
      : permanent(`whatsapp_http_${response.status}`, message);
  }
  if (code === PAIR_RATE_LIMIT_CODE) return transient(`whatsapp_${code}`, message, PAIR_RATE_LIMIT_WAIT_MS);
  if (TRANSIENT_CODES.has(code)) return transient(`whatsapp_${code}`, message);
  if (!PERMANENT_CODES.has(code) && (response.status >= 500 || response.status === 429)) return transient(`whatsapp_${code}`, message);
  return permanent(`whatsapp_${code}`, message);
}
