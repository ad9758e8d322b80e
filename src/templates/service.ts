import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { Refusal } from '../domain/refusal.js';
import type { WhatsAppChannel } from '../live-chats/model.js';
import type { LiveChatService } from '../live-chats/service.js';
import { CatalogueCache, entryKey, entryOfRow } from './catalogue-cache.js';
import type { TemplateEntry } from './catalogue-entry.js';
import { fetchTemplateCatalogue } from './graph-client.js';
import { type TemplateStatusNotification, templateStatusUpdatesOf } from './status-webhook.js';
import { type TemplateQuery, claimDueSyncs, listTemplates, replaceCatalogue, updateTemplateStatus } from './repository.js';

export interface TemplateServiceOptions {
  /** WHATSAPP_API_BASE_URL: the catalogue is read there, and only paging links under it are followed. */
  whatsappApiBaseUrl: string;
  timeoutMs: number;
  /** TEMPLATE_SYNC_INTERVAL_MINUTES, in ms. */
  syncIntervalMs: number;
}

/** A template as check 6 reads it: the catalogue's version (0: never synced) and the entry for the name and language, if any. */
export interface TemplateLookup {
  catalogueVersion: number;
  entry: TemplateEntry | null;
  /** Read from this replica's copy, which another replica's changes may not have reached yet. */
  cached: boolean;
}

/** A `message_template_status_update` as the WhatsApp webhook reports it. */
export interface TemplateStatusUpdate {
  businessAccountId: string | null;
  name: string;
  language: string | null;
  status: string;
}

/** The WhatsApp live chats' template catalogues: synced from Meta, kept per live chat, read by check 6. */
export class TemplateService {
  readonly #cache: CatalogueCache;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
    private readonly options: TemplateServiceOptions,
  ) {
    this.#cache = new CatalogueCache(db);
  }

  /**
   * Reads the live chat's whole catalogue from WhatsApp and replaces the stored one with it in
   * one transaction; returns how many templates it has. Throws live_chat_not_found,
   * template_not_supported (not WhatsApp), business_account_required, or provider_error (the
   * stored catalogue then stays as it was).
   */
  async sync(liveChatId: string): Promise<number> {
    const channel = await this.#whatsAppChannel(liveChatId);
    if (!channel.businessAccountId) {
      throw new Refusal('business_account_required', 'Set the live chat’s channel.businessAccountId (the WhatsApp Business Account id) to keep its templates.');
    }
    const templates = await fetchTemplateCatalogue(
      { baseUrl: this.options.whatsappApiBaseUrl, timeoutMs: this.options.timeoutMs },
      { businessAccountId: channel.businessAccountId, accessToken: channel.accessToken },
    );
    const nextSyncAt = new Date(Date.now() + this.options.syncIntervalMs);
    await this.db.transaction().execute((trx) => replaceCatalogue(trx, liveChatId, templates, nextSyncAt));
    this.#cache.invalidate(liveChatId);
    return new Set(templates.map((t) => entryKey(t.name, t.language))).size;
  }

  /** A page of the live chat's catalogue by name and language. Throws live_chat_not_found. */
  async list(liveChatId: string, query: TemplateQuery): Promise<{ items: TemplateEntry[]; next: { name: string; language: string } | null }> {
    await this.liveChats.get(liveChatId);
    const rows = await listTemplates(this.db, liveChatId, query);
    const items = rows.slice(0, query.limit).map(entryOfRow);
    const last = items.at(-1);
    return { items, next: rows.length > query.limit && last ? { name: last.name, language: last.language } : null };
  }

  /** The template for check 6: from this replica's copy of the catalogue, or with `fresh` from the database. */
  async lookup(liveChatId: string, template: { name: string; language: string }, options: { fresh?: boolean } = {}): Promise<TemplateLookup> {
    const catalogue = await this.#cache.get(liveChatId, options);
    return { catalogueVersion: catalogue.version, entry: catalogue.entries.get(entryKey(template.name, template.language)) ?? null, cached: !options.fresh };
  }

  /**
   * Applies a WhatsApp notification's template status changes of the live chat's business
   * account: each named template takes its new status, in the database and in this replica's
   * copy (other replicas' writes see the catalogue's new version), and the catalogue syncs
   * soon. Changes for another account are ignored. Returns how many templates changed.
   */
  async applyStatusWebhook(liveChatId: string, channel: WhatsAppChannel, notification: TemplateStatusNotification): Promise<number> {
    const updates = templateStatusUpdatesOf(notification);
    if (updates.length === 0) return 0;
    const ours = updates.filter((u) => channel.businessAccountId && (u.businessAccountId === null || u.businessAccountId === channel.businessAccountId));
    if (ours.length === 0) return 0;
    let changed = 0;
    await this.db.transaction().execute(async (trx) => {
      for (const update of ours) if (await updateTemplateStatus(trx, liveChatId, update)) changed++;
    });
    this.#cache.invalidate(liveChatId);
    return changed;
  }

  /** Syncs the catalogues due for their periodic sync that this replica claimed; failures are reported, not thrown. */
  async syncDue(onFailure: (liveChatId: string, error: unknown) => void): Promise<number> {
    const due = await claimDueSyncs(this.db, this.options.syncIntervalMs);
    for (const liveChatId of due) {
      await this.sync(liveChatId).catch((error: unknown) => onFailure(liveChatId, error));
    }
    return due.length;
  }

  async #whatsAppChannel(liveChatId: string): Promise<WhatsAppChannel> {
    const { channel } = await this.liveChats.get(liveChatId);
    if (channel.type !== 'whatsapp') throw new Refusal('template_not_supported', `Templates are a WhatsApp feature; live chat ${liveChatId} is ${channel.type}.`);
    return channel;
  }
}
