import type { Kysely } from 'kysely';
import type { Database, WhatsAppTemplateRow } from '../db/types.js';
import { type TemplateEntry, entryOf } from './catalogue-entry.js';
import { loadCatalogue } from './repository.js';

/** A live chat's catalogue as one replica holds it: its version (0: never synced) and its entries by name and language. */
export interface Catalogue {
  version: number;
  entries: ReadonlyMap<string, TemplateEntry>;
}

const MAX_CATALOGUES = 10_000;

export const entryKey = (name: string, language: string) => `${name}\u0000${language}`;

export function entryOfRow(row: WhatsAppTemplateRow): TemplateEntry {
  return entryOf({ name: row.name, language: row.language, status: row.status, category: row.category, components: row.components });
}

/**
 * The live chats' template catalogues, kept in memory so that check 6 costs no query. An
 * entry is dropped when this replica syncs the catalogue or hears of a status change; another
 * replica's changes are caught by the writes, which go through only while the catalogue still
 * has the version the check was made against (and the pipeline then loads it again, fresh).
 * A refusal made on this copy is confirmed on a fresh one (src/sessions/pipeline.ts).
 */
export class CatalogueCache {
  readonly #catalogues = new Map<string, Promise<Catalogue>>();

  constructor(private readonly db: Kysely<Database>) {}

  /** The live chat's catalogue; with `fresh`, read from the database now (and kept). */
  get(liveChatId: string, options: { fresh?: boolean } = {}): Promise<Catalogue> {
    const known = options.fresh ? undefined : this.#catalogues.get(liveChatId);
    if (known) return known;
    if (this.#catalogues.size >= MAX_CATALOGUES) this.#catalogues.clear();
    const loading = loadCatalogue(this.db, liveChatId).then(({ version, templates }) => ({
      version,
      entries: new Map(templates.map((row) => [entryKey(row.name, row.language), entryOfRow(row)])),
    }));
    this.#catalogues.set(liveChatId, loading);
    // A failed load is not kept: the next request tries again.
    loading.catch(() => {
      if (this.#catalogues.get(liveChatId) === loading) this.#catalogues.delete(liveChatId);
    });
    return loading;
  }

  /** Forgets the live chat's catalogue (it changed). */
  invalidate(liveChatId: string): void {
    this.#catalogues.delete(liveChatId);
  }
}
