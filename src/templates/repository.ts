import { type Kysely, type Transaction, sql } from 'kysely';
import type { Database, WhatsAppTemplateRow } from '../db/types.js';
import type { GraphTemplate } from './catalogue-entry.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Replaces the live chat's whole catalogue with `templates` and moves its version on, in the
 * caller's transaction; concurrent syncs of one live chat queue on its catalogue row.
 */
export async function replaceCatalogue(trx: Transaction<Database>, liveChatId: string, templates: readonly GraphTemplate[], nextSyncAt: Date): Promise<void> {
  await sql`
    INSERT INTO whatsapp_template_catalogues AS c (live_chat_id, version, synced_at, next_sync_at)
    VALUES (${liveChatId}, 1, now(), ${nextSyncAt})
    ON CONFLICT (live_chat_id) DO UPDATE SET version = c.version + 1, synced_at = now(), next_sync_at = excluded.next_sync_at
  `.execute(trx);
  await trx.deleteFrom('whatsapp_templates').where('live_chat_id', '=', liveChatId).execute();
  // One template per name and language; a catalogue that lists one twice keeps the last.
  const unique = [...new Map(templates.map((t) => [`${t.name}\u0000${t.language}`, t])).values()];
  for (let i = 0; i < unique.length; i += 500) {
    await trx
      .insertInto('whatsapp_templates')
      .values(
        unique.slice(i, i + 500).map((t) => ({
          live_chat_id: liveChatId,
          name: t.name,
          language: t.language,
          status: t.status,
          category: t.category,
          provider_id: t.id,
          components: JSON.stringify(t.components),
          synced_at: new Date(),
        })),
      )
      .execute();
  }
}

/**
 * Sets one template's status as a webhook reported it, moving the catalogue's version on if
 * it changed, and asks for a sync soon (the webhook may name a template the catalogue does
 * not have yet). Returns whether the template was in the catalogue.
 */
export async function updateTemplateStatus(trx: Transaction<Database>, liveChatId: string, template: { name: string; language: string | null; status: string }): Promise<boolean> {
  let q = trx.updateTable('whatsapp_templates').set({ status: template.status }).where('live_chat_id', '=', liveChatId).where('name', '=', template.name);
  if (template.language !== null) q = q.where('language', '=', template.language);
  const updated = await q.where('status', '<>', template.status).executeTakeFirst();
  const changed = updated.numUpdatedRows > 0n;
  await sql`
    UPDATE whatsapp_template_catalogues
    SET version = version + ${changed ? 1 : 0}::integer, next_sync_at = least(next_sync_at, now())
    WHERE live_chat_id = ${liveChatId}
  `.execute(trx);
  return changed;
}

/** The catalogue's version (0: never synced) and its templates. */
export async function loadCatalogue(db: Db, liveChatId: string): Promise<{ version: number; templates: WhatsAppTemplateRow[] }> {
  const [catalogue, templates] = await Promise.all([
    db.selectFrom('whatsapp_template_catalogues').select('version').where('live_chat_id', '=', liveChatId).executeTakeFirst(),
    db.selectFrom('whatsapp_templates').selectAll().where('live_chat_id', '=', liveChatId).execute(),
  ]);
  return { version: catalogue?.version ?? 0, templates };
}

export interface TemplateQuery {
  name?: string | undefined;
  status?: string | undefined;
  limit: number;
  /** After this (name, language), in that order. */
  after?: { name: string; language: string } | undefined;
}

/** A page of the catalogue by name and language; `limit + 1` rows so the caller can tell whether more follow. */
export function listTemplates(db: Db, liveChatId: string, query: TemplateQuery): Promise<WhatsAppTemplateRow[]> {
  let q = db.selectFrom('whatsapp_templates').selectAll().where('live_chat_id', '=', liveChatId);
  if (query.name !== undefined) q = q.where('name', '=', query.name);
  if (query.status !== undefined) q = q.where('status', '=', query.status);
  if (query.after) q = q.where(sql<boolean>`(name, language) > (${query.after.name}, ${query.after.language})`);
  return q.orderBy('name').orderBy('language').limit(query.limit + 1).execute();
}

/**
 * Claims up to `limit` WhatsApp live chats with a business account whose catalogue is due for
 * its periodic sync (or was never synced), by moving their next sync `intervalMs` ahead. Each
 * due catalogue goes to one replica: a concurrent claim waits on the row, then finds it no
 * longer due.
 */
export async function claimDueSyncs(db: Db, intervalMs: number, limit = 10): Promise<string[]> {
  const result = await sql<{ live_chat_id: string }>`
    WITH due AS (
      SELECT l.id FROM live_chats AS l
      LEFT JOIN whatsapp_template_catalogues AS c ON c.live_chat_id = l.id
      WHERE l.channel_type = 'whatsapp' AND l.channel_settings ? 'businessAccountId'
        AND (c.live_chat_id IS NULL OR c.next_sync_at <= now())
      ORDER BY c.next_sync_at NULLS FIRST
      LIMIT ${limit}::integer
    )
    INSERT INTO whatsapp_template_catalogues AS c (live_chat_id, next_sync_at)
    SELECT d.id, now() + ${intervalMs}::integer * interval '1 millisecond' FROM due AS d
    ON CONFLICT (live_chat_id) DO UPDATE SET next_sync_at = excluded.next_sync_at
    WHERE c.next_sync_at <= now()
    RETURNING c.live_chat_id
  `.execute(db);
  return result.rows.map((r) => r.live_chat_id);
}
