import { peerOf } from '../accounts/peer.js';
import { Refusal } from '../domain/refusal.js';
import type { Check, Facts, Reach } from './checks.js';

/**
 * Check 7: the person has not opted out of the live chat. The guarded writes hold it too (no
 * opt-out under any of consentKeys), so the happy path reads nothing for it.
 */
export const notOptedOut: Check = {
  name: 'consent',
  reads: () => ['optedOut'],
  run(_ask, facts, reach) {
    if (facts.optedOut) {
      return new Refusal('contact_opted_out', `${reach.account?.value ?? 'This person'} opted out of this live chat: nothing is initiated or sent to them here.`);
    }
  },
};

/**
 * The accounts an opt-out of the person may be recorded under: the account they are reached
 * by, the provider's identity of them (a WhatsApp number in today's form, a lower-cased
 * email) and, on Telegram, their user id (`tg:<id>`: keywords and blocks are recorded so).
 */
export function consentKeys(reach: Readonly<Reach>, facts: Readonly<Facts>): string[] {
  const keys = new Set<string>();
  if (reach.account) keys.add(reach.account.value);
  if (reach.peer) keys.add(reach.peer);
  else if (reach.channel && reach.account) keys.add(peerOf(reach.channel, reach.account));
  if (reach.channel === 'telegram' && facts.channelContact) keys.add(`tg:${facts.channelContact.externalUserId}`);
  return [...keys];
}
