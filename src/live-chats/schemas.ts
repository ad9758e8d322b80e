import { type Static, type TSchema, Type } from 'typebox';
import { CHANNEL_TYPES, MAX_SEND_RATE_PER_SECOND } from '../domain/channel.js';
import { OneOf, Timestamp, Uuid } from '../http/schemas.js';

const SendRate = Type.Integer({
  minimum: 1,
  maximum: MAX_SEND_RATE_PER_SECOND,
  description: 'Messages a second sent through this live chat at most, counted across replicas. Default: 80 (WhatsApp), 30 (Telegram), 10 (email).',
});
const BusinessAccountId = Type.String({ pattern: '^[0-9]{1,32}$', description: 'The WhatsApp Business Account id; with it the service keeps the template catalogue.' });

const Secret = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description: `${description} Write-only.` });

const WhatsAppInput = Type.Object(
  {
    type: Type.Literal('whatsapp'),
    phoneNumberId: Type.String({ pattern: '^[0-9]{1,32}$', description: 'The WhatsApp Business phone number id.' }),
    accessToken: Secret('Cloud API access token.'),
    appSecret: Type.Optional(Secret('App secret that signs webhook events (X-Hub-Signature-256).')),
    verifyToken: Type.Optional(Secret('Token echoed in the webhook verification handshake.')),
    businessAccountId: Type.Optional(BusinessAccountId),
    sendRatePerSecond: Type.Optional(SendRate),
  },
  { additionalProperties: false },
);

const WebhookSecret = Type.String({
  pattern: '^[A-Za-z0-9_-]{16,256}$',
  description: 'The secret_token Telegram sends with every update (16–256 of A-Z a-z 0-9 _ -). Generated when omitted. Write-only.',
});

const TelegramInput = Type.Object(
  {
    type: Type.Literal('telegram'),
    botToken: Type.String({ pattern: '^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$', description: 'Bot token from @BotFather. Write-only.' }),
    webhookSecret: Type.Optional(WebhookSecret),
    sendRatePerSecond: Type.Optional(SendRate),
  },
  { additionalProperties: false },
);

const InboundSecret = Type.String({
  minLength: 16,
  maxLength: 256,
  description: 'Bearer secret of POST /webhooks/email/{id}, the inbound mail webhook; without it no mail is taken in. Write-only.',
});

const SmtpInput = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    secure: Type.Optional(Type.Boolean({ description: 'TLS from the first byte (port 465). Defaults to true on 465.' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    password: Type.Optional(Secret('SMTP password. Required again when host, port or username change.')),
    allowPlaintext: Type.Optional(
      Type.Boolean({
        description:
          'Send without encryption when the server does not offer STARTTLS. Off by default: unless `secure`, the connection must ' +
          'upgrade with STARTTLS, or the message fails with `smtp_tls_required` (loopback hosts are exempt).',
      }),
    ),
  },
  { additionalProperties: false },
);

const EmailInput = Type.Object(
  {
    type: Type.Literal('email'),
    address: Type.String({ minLength: 3, maxLength: 254, description: 'The inbox address; messages go out From it.' }),
    smtp: SmtpInput,
    inboundSecret: Type.Optional(InboundSecret),
    sendRatePerSecond: Type.Optional(SendRate),
  },
  { additionalProperties: false },
);

/** A discriminated union: validation errors then speak of the chosen channel type only. */
function discriminated<T extends TSchema[]>(variants: [...T]) {
  return Type.Unsafe<Static<T[number]>>({ type: 'object', oneOf: variants, discriminator: { propertyName: 'type' }, required: ['type'] });
}

export const ChannelInput = discriminated([WhatsAppInput, TelegramInput, EmailInput]);

export const ChannelPatchInput = Type.Object(
  {
    type: Type.Optional(OneOf(CHANNEL_TYPES)),
    phoneNumberId: Type.Optional(WhatsAppInput.properties.phoneNumberId),
    accessToken: Type.Optional(WhatsAppInput.properties.accessToken),
    appSecret: Type.Optional(Secret('App secret.')),
    verifyToken: Type.Optional(Secret('Verify token.')),
    botToken: Type.Optional(TelegramInput.properties.botToken),
    webhookSecret: Type.Optional(WebhookSecret),
    address: Type.Optional(EmailInput.properties.address),
    smtp: Type.Optional(Type.Partial(SmtpInput, { additionalProperties: false })),
    inboundSecret: Type.Optional(InboundSecret),
    businessAccountId: Type.Optional(BusinessAccountId),
    sendRatePerSecond: Type.Optional(SendRate),
  },
  { additionalProperties: false, description: 'The channel fields to change; the type cannot change. Omitted secrets are kept.' },
);

const WhatsAppOutput = Type.Object({
  type: Type.Literal('whatsapp'),
  phoneNumberId: Type.String(),
  businessAccountId: Type.Union([Type.String(), Type.Null()]),
  appSecretSet: Type.Boolean(),
  verifyTokenSet: Type.Boolean(),
  sendRatePerSecond: Type.Integer(),
});
const TelegramOutput = Type.Object({
  type: Type.Literal('telegram'),
  botId: Type.String({ description: 'The public numeric part of the bot token.' }),
  webhookSecretSet: Type.Boolean(),
  sendRatePerSecond: Type.Integer(),
});
const EmailOutput = Type.Object({
  type: Type.Literal('email'),
  address: Type.String(),
  smtp: Type.Object({
    host: Type.String(),
    port: Type.Integer(),
    secure: Type.Boolean(),
    username: Type.Optional(Type.String()),
    allowPlaintext: Type.Boolean(),
    passwordSet: Type.Boolean(),
  }),
  inboundSecretSet: Type.Boolean({ description: 'Whether POST /webhooks/email/{id} takes mail in (with `Authorization: Bearer <inboundSecret>`).' }),
  sendRatePerSecond: Type.Integer(),
});

export const LiveChatSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    channel: Type.Union([WhatsAppOutput, TelegramOutput, EmailOutput], { description: 'Non-secret channel settings.' }),
    secretsReadable: Type.Boolean({
      description:
        'False when none of the keys in SECRETS_KEY opens the stored channel secrets: the live chat lists and reads, but ' +
        'sending and webhooks fail until the key is configured again or the secrets are given anew (PATCH).',
    }),
    queuedMessages: Type.Optional(
      Type.Integer({ description: 'Outbound messages waiting for delivery (in flight included); on GET /live-chats/{id} only.' }),
    ),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'LiveChat' },
);

export const LiveChatName = Type.String({ minLength: 1, maxLength: 200 });
