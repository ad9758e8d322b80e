import { type RawBuilder, sql } from 'kysely';

/**
 * The race guard of check 6 (a template decided on a cached catalogue): the live chat's
 * catalogue still has the version it was checked against (0: never synced), so a template
 * disabled meanwhile — in any replica — holds the write back, and the checks run again on the
 * catalogue as it is now.
 */
export function catalogueGuard(liveChatId: RawBuilder<string>, version: RawBuilder<number | null>): RawBuilder<boolean> {
  return sql<boolean>`(${version} IS NULL OR coalesce((SELECT tc.version FROM whatsapp_template_catalogues AS tc WHERE tc.live_chat_id = ${liveChatId}), 0) = ${version})`;
}

/** The race guard of check 7: no opt-out of the live chat under any of the person's accounts. */
export function consentGuard(liveChatId: RawBuilder<string>, accounts: RawBuilder<string[]>): RawBuilder<boolean> {
  return sql<boolean>`NOT EXISTS (SELECT 1 FROM opt_outs AS oo WHERE oo.live_chat_id = ${liveChatId} AND oo.account = ANY(${accounts}))`;
}
