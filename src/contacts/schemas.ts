import { Type } from 'typebox';
import { Timestamp, Uuid } from '../http/schemas.js';

export const ContactName = Type.String({ minLength: 1, maxLength: 200 });
export const PhoneList = Type.Array(Type.String({ minLength: 1, maxLength: 64, description: 'Full international format with +.' }), {
  maxItems: 20,
});
export const EmailList = Type.Array(Type.String({ minLength: 3, maxLength: 254 }), { maxItems: 20 });

export const ContactInput = Type.Object(
  { name: ContactName, phones: Type.Optional(PhoneList), emails: Type.Optional(EmailList) },
  { additionalProperties: false },
);

export const ContactSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    phones: Type.Array(Type.String(), { description: 'E.164.' }),
    emails: Type.Array(Type.String(), { description: 'Domain lower-cased.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Contact' },
);
