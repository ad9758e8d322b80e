import { randomBytes } from 'node:crypto';
import { Refusal, validationFailed } from '../domain/refusal.js';
import type { Channel, EmailChannel, LiveChat } from './model.js';

export type ChannelPatch = Partial<{
  type: Channel['type'];
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
  botToken: string;
  webhookSecret: string;
  address: string;
  smtp: Partial<{ host: string; port: number; secure: boolean; username: string; password: string; allowPlaintext: boolean }>;
  inboundSecret: string;
  businessAccountId: string;
  sendRatePerSecond: number;
}>;

const FIELDS_BY_TYPE: Record<Channel['type'], readonly string[]> = {
  whatsapp: ['type', 'phoneNumberId', 'accessToken', 'appSecret', 'verifyToken', 'businessAccountId', 'sendRatePerSecond'],
  telegram: ['type', 'botToken', 'webhookSecret', 'sendRatePerSecond'],
  email: ['type', 'address', 'smtp', 'inboundSecret', 'sendRatePerSecond'],
};

/** The secret every channel of the type needs; the others are optional. */
const REQUIRED_SECRET: Record<Channel['type'], 'accessToken' | 'botToken' | null> = { whatsapp: 'accessToken', telegram: 'botToken', email: null };

/** A fresh Telegram secret_token: 32 random bytes in base64url, inside Telegram's alphabet. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The channel after a PATCH, and whether the stored sealed secrets stay as they are. Refuses
 * another channel type, fields of another type, and a change of SMTP server or user without
 * the password again (a stored password never goes to a server it was not given for). When
 * the stored secrets cannot be opened, a patch without secrets keeps them sealed untouched; one
 * with secrets starts them over, so it must carry the channel's required secret.
 */
export function patchChannel(current: LiveChat, patch: ChannelPatch): { channel: Channel; keepSealedSecrets: boolean } {
  const type = current.channel.type;
  if (patch.type !== undefined && patch.type !== type) {
    throw new Refusal('channel_type_immutable', 'A live chat keeps its channel type; create another live chat instead.');
  }
  const foreign = Object.keys(patch).filter((k) => !FIELDS_BY_TYPE[type].includes(k));
  if (foreign.length > 0) {
    throw validationFailed(foreign.map((k) => ({ field: `/channel/${k}`, code: 'unknown_field', message: `${k} does not apply to a ${type} channel.` })));
  }
  const givesSecrets = ['accessToken', 'appSecret', 'verifyToken', 'botToken', 'webhookSecret', 'inboundSecret'].some((k) => k in patch) || patch.smtp?.password !== undefined;
  if (current.channel.type === 'email') requirePasswordForNewServer(current.channel, current.secretsReadable, patch);
  if (current.secretsReadable || !givesSecrets) {
    return { channel: withWebhookSecret(merge(current.channel, patch)), keepSealedSecrets: !current.secretsReadable };
  }
  const required = REQUIRED_SECRET[type];
  if (required && patch[required] === undefined) {
    throw validationFailed([
      {
        field: `/channel/${required}`,
        code: 'required',
        message: `The stored secrets cannot be decrypted with SECRETS_KEY; give ${required} again (secrets not given are dropped).`,
      },
    ]);
  }
  return { channel: withWebhookSecret(merge(withoutSecrets(current.channel), patch)), keepSealedSecrets: false };
}

function requirePasswordForNewServer(current: EmailChannel, secretsReadable: boolean, patch: ChannelPatch): void {
  const smtp = patch.smtp;
  if (!smtp || smtp.password !== undefined) return;
  // Unreadable secrets may hold a password: treat them as if they did.
  const hasPassword = secretsReadable ? Boolean(current.smtp.password) : true;
  const moved = (['host', 'port', 'username'] as const).filter((k) => smtp[k] !== undefined && smtp[k] !== current.smtp[k]);
  if (hasPassword && moved.length > 0) {
    throw new Refusal(
      'smtp_password_required',
      `Changing smtp.${moved.join(', smtp.')} needs smtp.password again: the stored password is only ever sent to the server it was given for.`,
    );
  }
}

function merge(current: Channel, patch: ChannelPatch): Channel {
  const { type: _type, ...fields } = patch;
  if (current.type === 'email') {
    const { smtp, ...rest } = fields;
    return { ...current, ...(rest as Partial<EmailChannel>), smtp: { ...current.smtp, ...smtp } };
  }
  return { ...current, ...(fields as Partial<Channel>) } as Channel;
}

function withoutSecrets(channel: Channel): Channel {
  switch (channel.type) {
    case 'whatsapp':
      return { type: channel.type, phoneNumberId: channel.phoneNumberId, accessToken: '' };
    case 'telegram':
      return { type: channel.type, botToken: '' };
    case 'email': {
      const { password: _password, ...smtp } = channel.smtp;
      return { ...channel, smtp };
    }
  }
}

/** A Telegram channel always has a webhook secret: one is generated when none was given. */
export function withWebhookSecret<T extends { type: Channel['type']; webhookSecret?: string }>(channel: T): T {
  if (channel.type !== 'telegram' || channel.webhookSecret) return channel;
  return { ...channel, webhookSecret: newWebhookSecret() };
}
