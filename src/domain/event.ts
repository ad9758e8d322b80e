/** Every kind of change a calling service hears about, declared once for types and schemas. */
export const EVENT_TYPES = [
  'session.created',
  'session.assigned',
  'session.closed',
  'session.reopened',
  'message.sent',
  'message.delivered',
  'message.read',
  'message.failed',
  'message.received',
  'contact.opted_out',
  'contact.opted_in',
  'batch.completed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One change, as the log and the webhooks carry it. `data` is the API's JSON of the object at
 * that moment (`{ session }`, `{ message, session }`, `{ liveChatId, account, source }`,
 * `{ batch }`), built by whoever made the change; the log only stores it.
 */
export interface Event {
  /** A UUID; receivers deduplicate webhooks by it (`webhook-id`). */
  id: string;
  type: EventType;
  occurredAt: Date;
  liveChatId: string;
  data: Record<string, unknown>;
}

export const SUBSCRIPTION_STATUSES = ['active', 'paused'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export const EVENT_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type EventDeliveryStatus = (typeof EVENT_DELIVERY_STATUSES)[number];

/** An event as JSON, the same in the log's pages and in webhook bodies. */
export function eventJson(event: Event) {
  return { id: event.id, type: event.type, occurredAt: event.occurredAt.toISOString(), liveChatId: event.liveChatId, data: event.data };
}

/**
 * A webhook's body: eventJson's fields in its order, as text, around a snapshot that is already
 * JSON text (as the log prints it, or JSON.stringify of a snapshot in hand).
 */
export function eventJsonText(event: { id: string; type: string; occurredAt: string; liveChatId: string }, data: string): string {
  const text = JSON.stringify;
  return `{"id":${text(event.id)},"type":${text(event.type)},"occurredAt":${text(event.occurredAt)},"liveChatId":${text(event.liveChatId)},"data":${data}}`;
}
