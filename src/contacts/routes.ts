import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decodeCursor, pageResponse } from '../http/cursor.js';
import { Pagination, Uuid, ref, responses } from '../http/schemas.js';
import { ContactInput, ContactName, ContactSchema, EmailList, PhoneList } from './schemas.js';
import type { Contact, ContactService } from './service.js';

const NOT_FOUND = { 404: 'No contact with this id (`contact_not_found`).' };

function toResponse(contact: Contact) {
  return { ...contact, createdAt: contact.createdAt.toISOString(), updatedAt: contact.updatedAt.toISOString() };
}

export const contactRoutes: FastifyPluginAsyncTypebox<{ contacts: ContactService }> = async (app, { contacts }) => {
  const ContactRef = ref(ContactSchema);

  app.post(
    '/contacts',
    {
      config: { access: 'sessions', liveChat: 'none' },
      schema: { tags: ['contacts'], operationId: 'createContact', summary: 'Create a contact', body: ContactInput, response: responses({ 201: ContactRef }) },
    },
    async (request, reply) => {
      const contact = await contacts.create(request.body);
      return reply.code(201).header('location', `/contacts/${contact.id}`).send(toResponse(contact));
    },
  );

  app.get(
    '/contacts',
    {
      config: { access: 'sessions', liveChat: 'none' },
      schema: {
        tags: ['contacts'],
        operationId: 'findContacts',
        summary: 'Find contacts by exact (normalised) phone or email',
        querystring: Type.Object(
          {
            phone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
            limit: Type.Optional(Pagination.limit),
            cursor: Type.Optional(Pagination.cursor),
          },
          { additionalProperties: false },
        ),
        response: responses({ 200: Type.Object({ items: Type.Array(ContactRef), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }),
      },
    },
    async (request) => {
      const { cursor, ...query } = request.query;
      const page = await contacts.find({ ...query, limit: query.limit ?? 20, after: cursor ? decodeCursor(cursor) : undefined });
      return pageResponse(page, toResponse);
    },
  );

  app.get(
    '/contacts/:id',
    {
      config: { access: 'sessions', liveChat: 'none' },
      schema: {
        tags: ['contacts'],
        operationId: 'getContact',
        summary: 'Get a contact',
        params: Type.Object({ id: Uuid }),
        response: responses({ 200: ContactRef }, NOT_FOUND),
      },
    },
    async (request) => toResponse(await contacts.get(request.params.id)),
  );

  app.patch(
    '/contacts/:id',
    {
      config: { access: 'sessions', liveChat: 'none' },
      schema: {
        tags: ['contacts'],
        operationId: 'updateContact',
        summary: 'Change a contact (phones and emails are replaced whole)',
        params: Type.Object({ id: Uuid }),
        body: Type.Object(
          { name: Type.Optional(ContactName), phones: Type.Optional(PhoneList), emails: Type.Optional(EmailList) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: responses({ 200: ContactRef }, NOT_FOUND),
      },
    },
    async (request) => toResponse(await contacts.update(request.params.id, request.body)),
  );
};
