import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { type Keyset, type Page, pageOf } from '../db/keyset.js';
import type { Database } from '../db/types.js';
import type { EventDeliveryStatus, EventType, SubscriptionStatus } from '../domain/event.js';
import { Refusal } from '../domain/refusal.js';
import type { SecretBox } from '../live-chats/secret-box.js';
import * as deliveries from './delivery-repository.js';
import { newWebhookSecret } from './signature.js';
import * as repo from './subscription-repository.js';
import { ROTATION_OVERLAP_MS, currentSecret, sealSecrets } from './subscription-secrets.js';
import { type Resolve, type WebhookUrlPolicy, resolveAll, webhookUrlProblem } from './webhook-address.js';

/** A webhook subscription as the API shows it (its secret only at creation and rotation). */
export interface EventSubscription {
  id: string;
  url: string;
  /** null: every type. */
  types: EventType[] | null;
  /** null: every live chat. */
  liveChatIds: string[] | null;
  description: string | null;
  status: SubscriptionStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface SubscriptionInput {
  url: string;
  types?: EventType[] | null | undefined;
  liveChatIds?: string[] | null | undefined;
  description?: string | null | undefined;
}

export type SubscriptionPatch = Partial<SubscriptionInput & { status: SubscriptionStatus }>;

export const subscriptionNotFound = (id: string) => new Refusal('event_subscription_not_found', `Event subscription ${id} does not exist.`);

/** Whether live chats exist (LiveChatService fits). */
export interface LiveChatDirectory {
  channelTypeOf(id: string): Promise<unknown>;
}

/**
 * Webhook subscriptions: where events go, which ones, and the secret that signs them. URLs are
 * checked against the address policy whenever they are set; secrets are sealed at rest.
 */
export class EventSubscriptionService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secrets: SecretBox,
    private readonly clock: Clock,
    private readonly policy: WebhookUrlPolicy,
    private readonly liveChats: LiveChatDirectory,
    private readonly resolve: Resolve = resolveAll,
  ) {}

  /** Creates an active subscription for the events from now on; returns it with its secret (shown this once). */
  async create(input: SubscriptionInput): Promise<{ subscription: EventSubscription; secret: string }> {
    await this.#checkUrl(input.url);
    const liveChatIds = await this.#knownLiveChats(input.liveChatIds);
    const secret = newWebhookSecret();
    const row = await repo.insertSubscription(this.db, {
      url: input.url,
      types: unique(input.types),
      liveChatIds,
      description: input.description ?? null,
      sealedSecrets: sealSecrets(this.secrets, { current: secret }),
    });
    return { subscription: toSubscription(row), secret };
  }

  async list(query: { limit: number; after?: Keyset | undefined }): Promise<Page<EventSubscription>> {
    const page = pageOf(await repo.listSubscriptions(this.db, query), query.limit);
    return { items: page.items.map(toSubscription), next: page.next };
  }

  /** Returns the subscription, or throws 404 event_subscription_not_found. */
  async get(id: string): Promise<EventSubscription> {
    return toSubscription(await this.#row(id));
  }

  /**
   * Changes what the patch names. A paused subscription gets nothing; when it resumes it starts
   * from the events after that moment, as a new one does (replay brings the rest).
   */
  async update(id: string, patch: SubscriptionPatch): Promise<EventSubscription> {
    if (patch.url !== undefined) await this.#checkUrl(patch.url);
    const liveChatIds = patch.liveChatIds !== undefined ? await this.#knownLiveChats(patch.liveChatIds) : undefined;
    return this.db.transaction().execute(async (trx) => {
      const row = await repo.findSubscriptionForUpdate(trx, id);
      if (!row) throw subscriptionNotFound(id);
      const status = patch.status ?? row.status;
      const updated = await repo.updateSubscription(trx, id, {
        url: patch.url ?? row.url,
        types: patch.types !== undefined ? unique(patch.types) : row.types,
        liveChatIds: liveChatIds !== undefined ? liveChatIds : row.live_chat_ids,
        description: patch.description !== undefined ? patch.description : row.description,
        status,
        sealedSecrets: row.secrets,
        previousSecretExpiresAt: row.previous_secret_expires_at,
        restart: row.status === 'paused' && status === 'active',
      });
      return toSubscription(updated);
    });
  }

  async delete(id: string): Promise<void> {
    if (!(await repo.deleteSubscription(this.db, id))) throw subscriptionNotFound(id);
  }

  /** A new secret, returned this once; the previous one keeps signing alongside for 24 hours. */
  async rotateSecret(id: string): Promise<{ subscription: EventSubscription; secret: string }> {
    const secret = newWebhookSecret();
    const subscription = await this.db.transaction().execute(async (trx) => {
      const row = await repo.findSubscriptionForUpdate(trx, id);
      if (!row) throw subscriptionNotFound(id);
      const previous = currentSecret(this.secrets, row.secrets);
      const updated = await repo.updateSubscription(trx, id, {
        url: row.url,
        types: row.types,
        liveChatIds: row.live_chat_ids,
        description: row.description,
        status: row.status,
        sealedSecrets: sealSecrets(this.secrets, { current: secret, previous }),
        previousSecretExpiresAt: new Date(this.clock.now().getTime() + ROTATION_OVERLAP_MS),
        restart: false,
      });
      return toSubscription(updated);
    });
    return { subscription, secret };
  }

  async listDeliveries(id: string, query: { status?: EventDeliveryStatus | undefined; limit: number; after?: Keyset | undefined }) {
    await this.#row(id);
    return pageOf(await deliveries.listDeliveries(this.db, id, query), query.limit);
  }

  /** Queues every kept event since `since` that matches the subscription for delivery again. Returns how many. */
  async replay(id: string, since: Date): Promise<number> {
    await this.#row(id);
    return deliveries.replayEvents(this.db, id, since);
  }

  async #row(id: string): Promise<repo.SubscriptionRow> {
    const row = await repo.findSubscription(this.db, id);
    if (!row) throw subscriptionNotFound(id);
    return row;
  }

  async #checkUrl(url: string): Promise<void> {
    const problem = await webhookUrlProblem(url, this.policy, this.resolve);
    if (problem) throw new Refusal('webhook_url_not_allowed', problem);
  }

  /** The live chats named, each once; throws live_chat_not_found for one that does not exist. */
  async #knownLiveChats(ids: string[] | null | undefined): Promise<string[] | null> {
    const list = unique(ids);
    for (const id of list ?? []) {
      if ((await this.liveChats.channelTypeOf(id)) === undefined) throw new Refusal('live_chat_not_found', `Live chat ${id} does not exist.`);
    }
    return list;
  }
}

function unique<T>(values: T[] | null | undefined): T[] | null {
  return values ? [...new Set(values)] : null;
}

function toSubscription(row: repo.SubscriptionRow): EventSubscription {
  return {
    id: row.id,
    url: row.url,
    types: row.types as EventType[] | null,
    liveChatIds: row.live_chat_ids,
    description: row.description,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
