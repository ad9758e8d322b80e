import { type Static, Type } from 'typebox';

// Provider payloads: only the fields used are described, and every object admits more, since
// the providers add fields over time and a refused delivery is retried again and again.

const TelegramUser = Type.Object({
  id: Type.Integer(),
  is_bot: Type.Optional(Type.Boolean()),
  first_name: Type.Optional(Type.String()),
  last_name: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
});

/** A file Telegram keeps: fetched with getFile by its file_id. */
const TelegramFile = Type.Object({
  file_id: Type.String(),
  file_name: Type.Optional(Type.String()),
  mime_type: Type.Optional(Type.String()),
});

const TelegramMessage = Type.Object({
  message_id: Type.Integer(),
  date: Type.Integer({ description: 'Unix seconds.' }),
  chat: Type.Object({ id: Type.Integer(), type: Type.String() }),
  from: Type.Optional(TelegramUser),
  text: Type.Optional(Type.String()),
  caption: Type.Optional(Type.String()),
  photo: Type.Optional(Type.Array(Type.Object({ file_id: Type.String(), width: Type.Optional(Type.Integer()), height: Type.Optional(Type.Integer()) }), { maxItems: 20 })),
  document: Type.Optional(TelegramFile),
  animation: Type.Optional(TelegramFile),
  video: Type.Optional(TelegramFile),
  video_note: Type.Optional(TelegramFile),
  voice: Type.Optional(TelegramFile),
  audio: Type.Optional(TelegramFile),
  sticker: Type.Optional(Type.Object({ file_id: Type.String(), emoji: Type.Optional(Type.String()) })),
  location: Type.Optional(Type.Object({ latitude: Type.Number(), longitude: Type.Number() })),
  venue: Type.Optional(Type.Object({ title: Type.Optional(Type.String()), address: Type.Optional(Type.String()) })),
  contact: Type.Optional(
    Type.Object({
      phone_number: Type.String(),
      first_name: Type.Optional(Type.String()),
      user_id: Type.Optional(Type.Integer()),
    }),
  ),
});

const TelegramChatMemberUpdated = Type.Object({
  chat: Type.Object({ id: Type.Integer(), type: Type.String() }),
  from: TelegramUser,
  date: Type.Optional(Type.Integer()),
  new_chat_member: Type.Object({ status: Type.Optional(Type.String({ description: '`kicked`: the person blocked the bot; `member`: they unblocked it.' })) }),
});

export const TelegramUpdate = Type.Object(
  { update_id: Type.Integer({ minimum: 0 }), message: Type.Optional(TelegramMessage), my_chat_member: Type.Optional(TelegramChatMemberUpdated) },
  {
    description:
      'A Telegram Update. `message` in a private chat and `my_chat_member` (the person blocked or unblocked the bot) are used; other update types are acknowledged and ignored.',
  },
);
export type TelegramUpdate = Static<typeof TelegramUpdate>;

export const TelegramOutcome = Type.Object({
  outcome: Type.Union([Type.Literal('processed'), Type.Literal('duplicate'), Type.Literal('ignored')], {
    description: '`duplicate`: this update_id was processed before and changed nothing now.',
  }),
});

// Meta batches up to about a thousand updates in one notification; the body limit bounds it too.
const MAX_EVENTS = 5_000;

const WhatsAppMedia = Type.Object({
  id: Type.String({ description: 'The media id; the bytes are fetched from the Graph API.' }),
  mime_type: Type.Optional(Type.String()),
  caption: Type.Optional(Type.String()),
  filename: Type.Optional(Type.String()),
});

const WhatsAppInboundMessage = Type.Object({
  from: Type.String({ description: 'The sender’s wa_id (digits).' }),
  id: Type.String({ description: 'wamid.' }),
  timestamp: Type.String({ description: 'Unix seconds.' }),
  type: Type.String({ description: '`text`, `image`, `video`, `audio`, `document`, `sticker`, `location`, `contacts`, `interactive`, `button`, `reaction`, `unsupported`, …' }),
  text: Type.Optional(Type.Object({ body: Type.String() })),
  button: Type.Optional(Type.Object({ text: Type.String() })),
  image: Type.Optional(WhatsAppMedia),
  video: Type.Optional(WhatsAppMedia),
  audio: Type.Optional(WhatsAppMedia),
  document: Type.Optional(WhatsAppMedia),
  sticker: Type.Optional(WhatsAppMedia),
  location: Type.Optional(
    Type.Object({ latitude: Type.Number(), longitude: Type.Number(), name: Type.Optional(Type.String()), address: Type.Optional(Type.String()) }),
  ),
  contacts: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.Optional(Type.Object({ formatted_name: Type.Optional(Type.String()) })),
        phones: Type.Optional(Type.Array(Type.Object({ phone: Type.Optional(Type.String()) }), { maxItems: 100 })),
      }),
      { maxItems: 100 },
    ),
  ),
  interactive: Type.Optional(
    Type.Object({
      type: Type.Optional(Type.String()),
      button_reply: Type.Optional(Type.Object({ title: Type.Optional(Type.String()) })),
      list_reply: Type.Optional(Type.Object({ title: Type.Optional(Type.String()), description: Type.Optional(Type.String()) })),
    }),
  ),
  reaction: Type.Optional(Type.Object({ emoji: Type.Optional(Type.String()), message_id: Type.Optional(Type.String()) })),
});
export type WhatsAppInboundMessage = Static<typeof WhatsAppInboundMessage>;

const WhatsAppStatus = Type.Object({
  id: Type.String({ description: 'The wamid of an outbound message.' }),
  status: Type.String({ description: '`sent`, `delivered`, `read` or `failed`; others are ignored.' }),
  timestamp: Type.String(),
  recipient_id: Type.Optional(Type.String()),
  errors: Type.Optional(
    Type.Array(
      Type.Object({
        code: Type.Integer(),
        title: Type.Optional(Type.String()),
        message: Type.Optional(Type.String()),
        error_data: Type.Optional(Type.Object({ details: Type.Optional(Type.String()) })),
      }),
      { maxItems: 100 },
    ),
  ),
});
export type WhatsAppStatus = Static<typeof WhatsAppStatus>;

const WhatsAppChange = Type.Object({
  field: Type.String(),
  value: Type.Object({
    metadata: Type.Optional(Type.Object({ phone_number_id: Type.String(), display_phone_number: Type.Optional(Type.String()) })),
    contacts: Type.Optional(
      Type.Array(Type.Object({ wa_id: Type.Optional(Type.String()), profile: Type.Optional(Type.Object({ name: Type.Optional(Type.String()) })) }), { maxItems: MAX_EVENTS }),
    ),
    messages: Type.Optional(Type.Array(WhatsAppInboundMessage, { maxItems: MAX_EVENTS })),
    statuses: Type.Optional(Type.Array(WhatsAppStatus, { maxItems: MAX_EVENTS })),
  }),
});

export const WhatsAppNotification = Type.Object(
  {
    object: Type.String(),
    entry: Type.Array(Type.Object({ id: Type.Optional(Type.String()), changes: Type.Array(WhatsAppChange, { maxItems: MAX_EVENTS }) }), { maxItems: MAX_EVENTS }),
  },
  { description: 'A WhatsApp Cloud API webhook notification; every entry and change in it is handled.' },
);
export type WhatsAppNotification = Static<typeof WhatsAppNotification>;

export const WhatsAppOutcome = Type.Object({
  messages: Type.Integer({ description: 'Inbound messages recorded now (replays not counted).' }),
  statuses: Type.Integer({ description: 'Outbound messages whose status moved.' }),
});

export const VerificationQuery = Type.Object({
  'hub.mode': Type.Optional(Type.String()),
  'hub.verify_token': Type.Optional(Type.String()),
  'hub.challenge': Type.Optional(Type.String({ maxLength: 256 })),
});
