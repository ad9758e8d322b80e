import type { Transaction } from 'kysely';
import type { Database } from '../db/types.js';
import type { OptOutSource } from '../domain/consent.js';
import { appendEvents } from '../events/log-repository.js';
import { deleteOptOut, failQueuedMessagesTo, upsertOptOut } from './repository.js';

/** A person opting out of a live chat, or back in. */
export type ConsentChange =
  | { kind: 'opted_out'; liveChatId: string; account: string; source: OptOutSource; reason: string | null }
  | {
      kind: 'opted_in';
      liveChatId: string;
      account: string;
      source: OptOutSource;
      /** Lifts only an opt-out of these sources (a returning message lifts a block, not a STOP). */
      lifts?: readonly OptOutSource[] | undefined;
    };

/**
 * The one place consent changes are written, in the caller's transaction: an opt-out is
 * recorded and the person's queued messages fail with `contact_opted_out`; an opt-in removes
 * the opt-out. A change appends its `contact.opted_out` / `contact.opted_in` event (and the
 * failed messages their `message.failed`) in the same transaction. Returns whether anything changed.
 */
export async function recordConsentChange(trx: Transaction<Database>, change: ConsentChange): Promise<boolean> {
  let changed: boolean;
  if (change.kind === 'opted_out') {
    changed = await upsertOptOut(trx, change);
    await failQueuedMessagesTo(trx, change.liveChatId, change.account);
  } else {
    changed = await deleteOptOut(trx, change.liveChatId, change.account, change.lifts);
  }
  if (changed) {
    const { liveChatId, account, source } = change;
    await appendEvents(trx, [{ type: `contact.${change.kind}`, liveChatId, data: { liveChatId, account, source } }]);
  }
  return changed;
}
