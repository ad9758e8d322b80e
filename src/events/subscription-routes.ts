import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_DELIVERY_STATUSES } from '../domain/event.js';
import { decodeCursor, pageResponse } from '../http/cursor.js';
import { OneOf, Pagination, Timestamp, Uuid, ref, responses } from '../http/schemas.js';
import type { DeliveryListRow } from './delivery-repository.js';
import { DeliverySchema, SubscriptionInput, SubscriptionPatch, SubscriptionSchema, SubscriptionWithSecret } from './schemas.js';
import type { EventSubscription, EventSubscriptionService } from './subscription-service.js';

const NOT_FOUND = { 404: 'No subscription with this id (`event_subscription_not_found`).' };
const URL_REFUSED = { 422: 'The URL is not `https://`, or resolves to a loopback, private, link-local or other internal address (`webhook_url_not_allowed`).' };
const LIVE_CHAT_NOT_FOUND = 'A live chat in `liveChatIds` does not exist (`live_chat_not_found`).';
const IdParams = Type.Object({ id: Uuid });
const Page = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

function toResponse(s: EventSubscription) {
  return { id: s.id, url: s.url, types: s.types, liveChatIds: s.liveChatIds, description: s.description, status: s.status, createdAt: s.createdAt.toISOString() };
}

function deliveryResponse(d: DeliveryListRow) {
  return {
    eventId: d.event_id,
    type: d.type as never,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.last_status_code,
    lastError: d.last_error,
    nextAttemptAt: d.next_attempt_at ? new Date(d.next_attempt_at).toISOString() : null,
    deliveredAt: d.delivered_at ? new Date(d.delivered_at).toISOString() : null,
  };
}

export const eventSubscriptionRoutes: FastifyPluginAsyncTypebox<{ subscriptions: EventSubscriptionService }> = async (app, { subscriptions }) => {
  const SubscriptionRef = ref(SubscriptionSchema);
  const tags = ['event-subscriptions'];

  app.post(
    '/event-subscriptions',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'createEventSubscription',
        summary: 'Subscribe a URL to events (Standard Webhooks)',
        description: 'Receives the events that happen from now on; older ones through replay. The `secret` is shown in this answer only.',
        body: SubscriptionInput,
        response: responses({ 201: SubscriptionWithSecret }, { 404: LIVE_CHAT_NOT_FOUND, ...URL_REFUSED }),
      },
    },
    async (request, reply) => {
      const { subscription, secret } = await subscriptions.create(request.body);
      return reply.code(201).header('location', `/event-subscriptions/${subscription.id}`).send({ ...toResponse(subscription), secret });
    },
  );

  app.get(
    '/event-subscriptions',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'listEventSubscriptions',
        summary: 'List event subscriptions, newest first (without their secrets)',
        querystring: Type.Object({ limit: Type.Optional(Pagination.limit), cursor: Type.Optional(Pagination.cursor) }, { additionalProperties: false }),
        response: responses({ 200: Page(SubscriptionRef) }),
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      return pageResponse(await subscriptions.list({ limit: limit ?? 20, after: cursor ? decodeCursor(cursor) : undefined }), toResponse);
    },
  );

  app.get(
    '/event-subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: { tags, operationId: 'getEventSubscription', summary: 'Get an event subscription', params: IdParams, response: responses({ 200: SubscriptionRef }, NOT_FOUND) },
    },
    async (request) => toResponse(await subscriptions.get(request.params.id)),
  );

  app.patch(
    '/event-subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'updateEventSubscription',
        summary: 'Change, pause or resume an event subscription',
        params: IdParams,
        body: SubscriptionPatch,
        response: responses({ 200: SubscriptionRef }, { 404: `${NOT_FOUND[404]} ${LIVE_CHAT_NOT_FOUND}`, ...URL_REFUSED }),
      },
    },
    async (request) => toResponse(await subscriptions.update(request.params.id, request.body)),
  );

  app.delete(
    '/event-subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'deleteEventSubscription',
        summary: 'Delete an event subscription and its deliveries',
        params: IdParams,
        response: responses({ 204: Type.Null({ description: 'Deleted.' }) }, NOT_FOUND),
      },
    },
    async (request, reply) => {
      await subscriptions.delete(request.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/event-subscriptions/:id/rotate-secret',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'rotateEventSubscriptionSecret',
        summary: 'Give the subscription a new secret',
        description: 'The new `secret` is shown in this answer only. The previous secret keeps signing alongside it for 24 hours.',
        params: IdParams,
        response: responses({ 200: SubscriptionWithSecret }, NOT_FOUND),
      },
    },
    async (request) => {
      const { subscription, secret } = await subscriptions.rotateSecret(request.params.id);
      return { ...toResponse(subscription), secret };
    },
  );

  app.get(
    '/event-subscriptions/:id/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'listEventDeliveries',
        summary: "A subscription's deliveries and their attempts, newest first",
        description:
          'A delivery is listed once its first attempt has an outcome, or once a replay queued it: an event not yet tried is in the event log, not here (see `event_oldest_undelivered_age_seconds` in /metrics).',
        params: IdParams,
        querystring: Type.Object(
          { status: Type.Optional(OneOf(EVENT_DELIVERY_STATUSES)), limit: Type.Optional(Pagination.limit), cursor: Type.Optional(Pagination.cursor) },
          { additionalProperties: false },
        ),
        response: responses({ 200: Page(DeliverySchema) }, NOT_FOUND),
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = await subscriptions.listDeliveries(request.params.id, { status, limit: limit ?? 20, after: cursor ? decodeCursor(cursor) : undefined });
      return pageResponse(page, deliveryResponse);
    },
  );

  app.post(
    '/event-subscriptions/:id/replay',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        operationId: 'replayEvents',
        summary: 'Deliver every kept event since a time again',
        description: 'Every kept event since `since` that matches the subscription is queued for delivery again (a paused subscription gets them once resumed).',
        params: IdParams,
        body: Type.Object({ since: Timestamp }, { additionalProperties: false }),
        response: responses({ 202: Type.Object({ queued: Type.Integer({ description: 'Events queued for delivery.' }) }) }, NOT_FOUND),
      },
    },
    async (request, reply) => {
      const queued = await subscriptions.replay(request.params.id, new Date(request.body.since));
      return reply.code(202).send({ queued });
    },
  );
};
