import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { type SecretBox, SecretsUnreadableError } from './secret-box.js';

export interface ResealReport {
  /** Live chats whose secrets are now sealed with the first key. */
  resealed: number;
  /** Live chats that already were. */
  current: number;
  /** Live chats whose secrets no listed key opens; left as they are. */
  unreadable: string[];
}

const BATCH = 100;

/**
 * Re-seals every live chat's channel secrets with the first key of SECRETS_KEY, one short
 * transaction per live chat (the row is locked while it is re-sealed, so a concurrent PATCH is
 * not lost). Safe to run again, and while the service runs: once it reports no unreadable live
 * chat, the older keys can be taken out of SECRETS_KEY.
 */
export async function resealSecrets(db: Kysely<Database>, box: SecretBox): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, current: 0, unreadable: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await db.selectFrom('live_chats').select(['id', 'channel_secrets']).where('id', '>', after).orderBy('id').limit(BATCH).execute();
    if (page.length === 0) return report;
    after = page.at(-1)!.id;
    for (const { id, channel_secrets } of page) {
      if (box.isCurrent(channel_secrets)) {
        report.current++;
        continue;
      }
      const outcome = await db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('live_chats').select('channel_secrets').where('id', '=', id).forUpdate().executeTakeFirst();
        if (!row || box.isCurrent(row.channel_secrets)) return 'current';
        try {
          const sealed = box.seal(box.open(row.channel_secrets));
          await trx.updateTable('live_chats').set({ channel_secrets: sealed }).where('id', '=', id).execute();
          return 'resealed';
        } catch (error) {
          if (error instanceof SecretsUnreadableError) return 'unreadable';
          throw error;
        }
      });
      if (outcome === 'unreadable') report.unreadable.push(id);
      else report[outcome]++;
    }
  }
}
