import { Type } from 'typebox';
import { EVENT_DELIVERY_STATUSES, EVENT_TYPES, SUBSCRIPTION_STATUSES } from '../domain/event.js';
import { NullableTimestamp, OneOf, Timestamp, Uuid } from '../http/schemas.js';

export const EventTypeName = OneOf(EVENT_TYPES);

export const EventSchema = Type.Object(
  {
    id: Uuid,
    type: EventTypeName,
    occurredAt: Timestamp,
    liveChatId: Uuid,
    data: Type.Object(
      {},
      {
        additionalProperties: true,
        description: 'The object at that moment: `{ session }`, `{ message, session }`, `{ liveChatId, account, source }` (consent) or `{ batch }`.',
      },
    ),
  },
  { $id: 'Event', description: 'One change. Webhooks carry the same JSON; `id` is their `webhook-id`.' },
);

const WebhookUrl = Type.String({
  format: 'uri',
  maxLength: 2048,
  description: '`https://` (`http://` only with EVENT_WEBHOOK_ALLOW_HTTP); must not resolve to a loopback, private, link-local or other internal address.',
});
const Types = Type.Array(EventTypeName, { minItems: 1, maxItems: EVENT_TYPES.length * 2, description: 'The event types to receive; omitted or null: all.' });
const LiveChatIds = Type.Array(Uuid, { minItems: 1, maxItems: 1000, description: 'The live chats whose events to receive; omitted or null: all.' });
const Description = Type.String({ maxLength: 500 });

export const SubscriptionInput = Type.Object(
  {
    url: WebhookUrl,
    types: Type.Optional(Type.Union([Types, Type.Null()])),
    liveChatIds: Type.Optional(Type.Union([LiveChatIds, Type.Null()])),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
  },
  { additionalProperties: false },
);

export const SubscriptionPatch = Type.Object(
  {
    url: Type.Optional(WebhookUrl),
    types: Type.Optional(Type.Union([Types, Type.Null()])),
    liveChatIds: Type.Optional(Type.Union([LiveChatIds, Type.Null()])),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    status: Type.Optional(OneOf(SUBSCRIPTION_STATUSES, { description: '`paused`: nothing is sent; on resuming, events from then on (replay brings the rest).' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SubscriptionSchema = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    types: Type.Union([Type.Array(EventTypeName), Type.Null()], { description: 'null: every type.' }),
    liveChatIds: Type.Union([Type.Array(Uuid), Type.Null()], { description: 'null: every live chat.' }),
    description: Type.Union([Type.String(), Type.Null()]),
    status: OneOf(SUBSCRIPTION_STATUSES),
    createdAt: Timestamp,
  },
  { $id: 'EventSubscription' },
);

export const SubscriptionWithSecret = Type.Object({
  ...SubscriptionSchema.properties,
  secret: Type.String({ description: '`whsec_` + base64 of 32 random bytes. Shown at creation and rotation only; store it now.' }),
});

export const DeliverySchema = Type.Object({
  eventId: Uuid,
  type: EventTypeName,
  status: OneOf(EVENT_DELIVERY_STATUSES),
  attempts: Type.Integer(),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's last HTTP status; null when it did not answer." }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: NullableTimestamp,
  deliveredAt: NullableTimestamp,
});
