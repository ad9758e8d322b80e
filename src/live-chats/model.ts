import { type ChannelType, DEFAULT_SEND_RATE_PER_SECOND } from '../domain/channel.js';

/** What every channel takes besides its own settings (see Pacing in the contract). */
interface PacedChannel {
  /** Messages a second sent through the live chat at most, across replicas; its channel's default when unset. */
  sendRatePerSecond?: number | undefined;
}

export interface WhatsAppChannel extends PacedChannel {
  type: 'whatsapp';
  phoneNumberId: string;
  accessToken: string;
  appSecret?: string;
  verifyToken?: string;
  /** The WhatsApp Business Account whose template catalogue the live chat keeps. */
  businessAccountId?: string | undefined;
}

export interface TelegramChannel extends PacedChannel {
  type: 'telegram';
  botToken: string;
  webhookSecret?: string;
  /** The public numeric part of the bot token, kept beside the secrets so that it shows without them. */
  botId?: string;
}

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  username?: string;
  password?: string;
  /** Lets the connection stay unencrypted when the server does not offer STARTTLS. */
  allowPlaintext?: boolean;
}

export interface EmailChannel extends PacedChannel {
  type: 'email';
  address: string;
  smtp: SmtpSettings;
  /** The bearer secret of POST /webhooks/email/{id}; without it the inbox takes no mail in. */
  inboundSecret?: string;
}

/** A live chat's channel with its secrets, as the service and channel clients use it. */
export type Channel = WhatsAppChannel | TelegramChannel | EmailChannel;

/** A channel as given to the API: `smtp.secure` may be left to its default. */
export type ChannelInput =
  | WhatsAppChannel
  | TelegramChannel
  | (Omit<EmailChannel, 'smtp'> & { smtp: Omit<SmtpSettings, 'secure'> & { secure?: boolean | undefined } });

export interface LiveChat {
  id: string;
  name: string;
  /** Without its secrets when secretsReadable is false. */
  channel: Channel;
  /** False when SECRETS_KEY has no key that opens the stored secrets: the live chat shows, but cannot be used. */
  secretsReadable: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** The names of write-only fields per channel type; `smtp.password` is nested. */
export const SECRET_FIELDS: Record<ChannelType, readonly string[]> = {
  whatsapp: ['accessToken', 'appSecret', 'verifyToken'],
  telegram: ['botToken', 'webhookSecret'],
  email: ['smtp.password', 'inboundSecret'],
};

/** Splits a channel into the stored non-secret settings and the secrets to seal. */
export function splitChannel(channel: Channel): { settings: Record<string, unknown>; secrets: Record<string, string> } {
  switch (channel.type) {
    case 'whatsapp': {
      const { accessToken, appSecret, verifyToken, type: _type, ...settings } = channel;
      return { settings, secrets: compact({ accessToken, appSecret, verifyToken }) };
    }
    case 'telegram': {
      const { botToken, webhookSecret, type: _type, ...settings } = channel;
      return { settings: { ...settings, botId: botIdOf(botToken) }, secrets: compact({ botToken, webhookSecret }) };
    }
    case 'email': {
      const { password, ...smtp } = channel.smtp;
      return { settings: { address: channel.address, smtp, ...paced(channel) }, secrets: compact({ smtpPassword: password, inboundSecret: channel.inboundSecret }) };
    }
  }
}

/** The inverse of splitChannel. */
export function joinChannel(type: ChannelType, settings: Record<string, unknown>, secrets: Record<string, string>): Channel {
  switch (type) {
    case 'whatsapp':
      return { type, ...(settings as { phoneNumberId: string }), accessToken: secrets.accessToken ?? '', ...pick(secrets, ['appSecret', 'verifyToken']) };
    case 'telegram': {
      const botId = typeof settings.botId === 'string' ? { botId: settings.botId } : {};
      return { type, botToken: secrets.botToken ?? '', ...pick(secrets, ['webhookSecret']), ...botId, ...paced(settings) };
    }
    case 'email': {
      const { address, smtp } = settings as { address: string; smtp: Omit<SmtpSettings, 'password'> };
      return { type, address, smtp: { ...smtp, ...(secrets.smtpPassword ? { password: secrets.smtpPassword } : {}) }, ...pick(secrets, ['inboundSecret']), ...paced(settings) };
    }
  }
}

/** The channel as the API shows it: no secrets, but whether each optional one is set. */
export function publicChannel(channel: Channel): Record<string, unknown> {
  switch (channel.type) {
    case 'whatsapp':
      return {
        type: channel.type,
        phoneNumberId: channel.phoneNumberId,
        businessAccountId: channel.businessAccountId ?? null,
        appSecretSet: Boolean(channel.appSecret),
        verifyTokenSet: Boolean(channel.verifyToken),
        sendRatePerSecond: sendRateOf(channel),
      };
    case 'telegram':
      return { type: channel.type, botId: channel.botId ?? botIdOf(channel.botToken), webhookSecretSet: Boolean(channel.webhookSecret), sendRatePerSecond: sendRateOf(channel) };
    case 'email': {
      const { password, ...smtp } = channel.smtp;
      return {
        type: channel.type,
        address: channel.address,
        smtp: { ...smtp, allowPlaintext: smtp.allowPlaintext ?? false, passwordSet: Boolean(password) },
        inboundSecretSet: Boolean(channel.inboundSecret),
        sendRatePerSecond: sendRateOf(channel),
      };
    }
  }
}

/** The numeric part of a bot token is the bot's public id; the rest is the secret. */
function botIdOf(botToken: string): string {
  return botToken.split(':')[0] ?? '';
}

/** The live chat's send rate: its own, or its channel's default. */
export function sendRateOf(channel: Channel): number {
  return channel.sendRatePerSecond ?? DEFAULT_SEND_RATE_PER_SECOND[channel.type];
}

function paced(settings: { sendRatePerSecond?: unknown }): PacedChannel {
  return typeof settings.sendRatePerSecond === 'number' ? { sendRatePerSecond: settings.sendRatePerSecond } : {};
}

function compact(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function pick(values: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => values[k] !== undefined).map((k) => [k, values[k]!]));
}
