import { Type } from 'typebox';
import { ContactInput } from '../contacts/schemas.js';
import { BATCH_STATUSES, RECIPIENT_OUTCOMES } from '../domain/batch.js';
import { NullableTimestamp, OneOf, OperatorId, Timestamp, Uuid } from '../http/schemas.js';
import { MessageContentSchema } from '../sessions/schemas.js';

export const MAX_RECIPIENTS = 10_000;
/** A batch of 10,000 recipients with inline contacts fits. */
export const BATCH_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

export const RecipientInput = Type.Object(
  {
    contactId: Type.Optional(Uuid),
    contact: Type.Optional(ContactInput),
    account: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    parameters: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 100, description: 'Replace the template’s body parameters for this recipient.' }),
    ),
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The caller’s own id for the recipient.' })),
  },
  { additionalProperties: false, description: 'Exactly one of `contactId` and `contact`, as in POST /sessions.' },
);

export const CreateBatchBody = Type.Object(
  {
    liveChatId: Uuid,
    operatorId: OperatorId,
    message: MessageContentSchema,
    recipients: Type.Array(RecipientInput, { minItems: 1, maxItems: MAX_RECIPIENTS }),
  },
  { additionalProperties: false },
);

export const BatchSchema = Type.Object(
  {
    id: Uuid,
    liveChatId: Uuid,
    operatorId: Type.String(),
    status: OneOf(BATCH_STATUSES, { description: '`running` while recipients are pending; then `done`, or `canceled`.' }),
    total: Type.Integer(),
    counts: Type.Object({ pending: Type.Integer(), created: Type.Integer(), refused: Type.Integer(), canceled: Type.Integer() }),
    createdAt: Timestamp,
    finishedAt: NullableTimestamp,
  },
  { $id: 'Batch' },
);

export const RecipientSchema = Type.Object({
  index: Type.Integer({ description: 'The recipient’s place in the request, from 0.' }),
  reference: Type.Union([Type.String(), Type.Null()]),
  account: Type.Union([Type.String(), Type.Null()], { description: 'The account its session reaches (normalised), or the one given.' }),
  outcome: OneOf(RECIPIENT_OUTCOMES),
  sessionId: Type.Union([Uuid, Type.Null()]),
  error: Type.Union([
    Type.Object({
      status: Type.Integer(),
      code: Type.String({ description: 'The code POST /sessions would have answered, e.g. `session_already_open`.' }),
      detail: Type.String(),
      existingSessionId: Type.Optional(Uuid),
    }),
    Type.Null(),
  ]),
});
