import { Type } from 'typebox';
import { ContactInput } from '../contacts/schemas.js';
import { CHANNEL_TYPES } from '../domain/channel.js';
import { MESSAGE_DIRECTIONS, MESSAGE_KINDS, MESSAGE_STATUSES, TEMPLATE_BUTTON_SUB_TYPES, TEMPLATE_MEDIA_TYPES } from '../domain/message.js';
import { SESSION_ORIGINS, SESSION_STATUSES } from '../domain/session.js';
import { NullableTimestamp, OneOf, OperatorId, Timestamp, Uuid } from '../http/schemas.js';

const ChannelName = OneOf(CHANNEL_TYPES);

const TemplateHeaderSchema = Type.Object(
  {
    type: OneOf(['text', ...TEMPLATE_MEDIA_TYPES] as const),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The `{{1}}` of a text header (type `text` only).' })),
    link: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https://', description: 'The media’s https URL (image, video, document).' })),
    filename: Type.Optional(Type.String({ minLength: 1, maxLength: 240, description: 'The file name the person sees (document only).' })),
  },
  { additionalProperties: false, description: 'The header’s parameter: `{ type: "text", text }` or `{ type: "image"|"video"|"document", link, filename? }`.' },
);

const TemplateButtonSchema = Type.Object(
  {
    index: Type.Integer({ minimum: 0, maximum: 9, description: 'The button’s position in the template, from 0.' }),
    subType: OneOf(TEMPLATE_BUTTON_SUB_TYPES),
    parameter: Type.String({ minLength: 1, maxLength: 2000, description: 'The URL’s `{{1}}`, the quick reply’s payload or the coupon code.' }),
  },
  { additionalProperties: false },
);

export const TemplateSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'An approved WhatsApp template name.' }),
    language: Type.String({ pattern: '^[a-z]{2,3}(_[A-Z]{2})?$', description: 'Template language code, e.g. `en_US`.' }),
    parameters: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 100, description: 'Body parameters, in order.' })),
    header: Type.Optional(TemplateHeaderSchema),
    buttons: Type.Optional(Type.Array(TemplateButtonSchema, { maxItems: 10, description: 'Parameters of the template’s buttons, each button at most once.' })),
  },
  { additionalProperties: false },
);

export const MessageText = Type.String({ minLength: 1, maxLength: 4096 });

export const MessageSubject = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Email only. Without one, the first email of a session takes the live chat’s name and later ones reply as `Re: <first subject>`.',
});

export const MessageContentSchema = Type.Object(
  { text: Type.Optional(MessageText), subject: Type.Optional(MessageSubject), template: Type.Optional(TemplateSchema) },
  { additionalProperties: false, description: 'Exactly one of `text` (with an email’s optional `subject`) and `template` (WhatsApp only).' },
);

export const InitiateSessionBody = Type.Object(
  {
    liveChatId: Uuid,
    operatorId: OperatorId,
    contactId: Type.Optional(Uuid),
    contact: Type.Optional(ContactInput),
    account: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 254,
        description: 'Phone in full international format with + (messengers), @username (Telegram) or an email address (inbox).',
      }),
    ),
    message: Type.Optional(MessageContentSchema),
  },
  { additionalProperties: false, description: 'Exactly one of `contactId` and `contact`.' },
);

export const SessionSchema = Type.Object(
  {
    id: Uuid,
    liveChatId: Uuid,
    channel: ChannelName,
    contactId: Uuid,
    account: Type.String({ description: 'Normalised: E.164, @username or email.' }),
    operatorId: Type.Union([Type.String(), Type.Null()], {
      description: 'The operator the session is assigned to; null while a session a customer’s message opened waits in the queue.',
    }),
    origin: OneOf(SESSION_ORIGINS, { description: '`operator`: initiated with POST /sessions; `inbound`: opened by the customer’s message.' }),
    status: OneOf(SESSION_STATUSES),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    closedAt: NullableTimestamp,
  },
  { $id: 'Session' },
);

export const MessageSchema = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    direction: OneOf(MESSAGE_DIRECTIONS),
    kind: OneOf(MESSAGE_KINDS, { description: 'A Telegram photo is `image`, a voice note `audio`; an email is `text`.' }),
    text: Type.Union([Type.String(), Type.Null()], { description: 'The text, a caption, or an email’s plain-text body.' }),
    template: Type.Union([
      Type.Object({
        name: Type.String(),
        language: Type.String(),
        parameters: Type.Optional(Type.Array(Type.String())),
        header: Type.Optional(TemplateHeaderSchema),
        buttons: Type.Optional(Type.Array(TemplateButtonSchema)),
      }),
      Type.Null(),
    ]),
    media: Type.Union(
      [
        Type.Object({
          providerMediaId: Type.String({ description: 'The provider’s id of the file (the bytes stay with the provider).' }),
          mimeType: Type.Union([Type.String(), Type.Null()]),
          fileName: Type.Union([Type.String(), Type.Null()]),
          caption: Type.Union([Type.String(), Type.Null()]),
        }),
        Type.Null(),
      ],
      { description: 'The file of an image, video, audio, document or sticker; null for other kinds.' },
    ),
    subject: Type.Union([Type.String(), Type.Null()], { description: 'An email’s subject; null on the messengers.' }),
    status: OneOf(MESSAGE_STATUSES),
    providerMessageId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    attempts: Type.Integer(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Message' },
);

export { OperatorId };
