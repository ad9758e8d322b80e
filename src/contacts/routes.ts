import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { decodeCursor, decodeSearchCursor, encodeSearchCursor, pageResponse } from '../http/cursor.js';
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
        summary: 'Search contacts (q), or find them by exact phone or email',
        description:
          'With `q`: the search box, best matches first (name matches, then email, then phone matches; each contact once). ' +
          'Without: contacts whose normalised phone or email equals the one given, newest first.',
        querystring: Type.Object(
          {
            q: Type.Optional(
              Type.String({
                minLength: 2,
                maxLength: 100,
                description:
                  'Finds contacts with a name word starting with each word of q, ignoring case and accents (`ann` and `Änn` find ' +
                  '"Anna Müller", `mull` and `müll` too), an email starting with q (`anna.m`), or — when q is a phone fragment ' +
                  '(digits, spaces, `+-./()`) of 3 or more digits — a phone holding those digits anywhere (`2345` finds ' +
                  '+4915123456789). A shorter q of digits matches names and emails only. Every character is literal. ' +
                  'Not combinable with `phone` or `email` (400 `validation_failed`, code `conflicts_with_q`).',
              }),
            ),
            phone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Exact phone, any common notation; not with `q`.' })),
            email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'Exact email, domain in any case; not with `q`.' })),
            limit: Type.Optional(Pagination.limit),
            // A search position holds the matched term and the folded name: longer than a list's.
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'Opaque; `nextCursor` of the previous page.' })),
          },
          { additionalProperties: false },
        ),
        response: responses(
          { 200: Type.Object({ items: Type.Array(ContactRef), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
          { 400: 'The query is malformed (`validation_failed`), e.g. `q` of fewer than 2 or more than 100 characters, or `q` with `phone` or `email`.' },
        ),
      },
    },
    async (request) => {
      const { cursor, q, ...query } = request.query;
      const limit = query.limit ?? 20;
      if (q !== undefined) {
        const page = await contacts.search({ ...query, q, limit, after: cursor ? decodeSearchCursor(cursor) : undefined });
        return { items: page.items.map(toResponse), nextCursor: page.next ? encodeSearchCursor(page.next) : null };
      }
      const page = await contacts.find({ ...query, limit, after: cursor ? decodeCursor(cursor) : undefined });
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
