import type { Kysely } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import type { ClaimedMessage } from './outbox-repository.js';
import { claimPacedMessages } from './paced-claim.js';
import { PACING_HORIZON_MS, type Pacer, TELEGRAM_CHAT_INTERVAL_MS } from './pacing.js';
import { outboxHasWork } from './pacing-repository.js';

/**
 * The dispatcher's look at the outbox: claims due messages with their send slots, tells the
 * Pacer what it saw of each live chat, and says when the messages it had to leave (their live
 * chat's slots all taken for now) can be claimed. Once per poll interval it also makes
 * messages whose lease ran out claimable again (for the next claim).
 */
export class OutboxClaimer {
  #expiredLeasesCheckedAt = Number.NEGATIVE_INFINITY;
  /** The last claim took nothing. */
  #idle = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: QueryRunner,
    private readonly pacer: Pacer,
    private readonly options: { leaseMs: number; pollIntervalMs: number },
  ) {}

  /** Up to `capacity` messages, and the earliest time (epoch ms) a live chat left for lack of slots opens again (Infinity: none). */
  async claim(capacity: number): Promise<{ messages: ClaimedMessage[]; opensAt: number }> {
    const expiredLeases = Date.now() - this.#expiredLeasesCheckedAt >= this.options.pollIntervalMs;
    // An idle outbox costs a probe, not the claim (which is dear to plan, on PGlite above all).
    if (this.#idle && !(await outboxHasWork(this.db, expiredLeases))) return { messages: [], opensAt: Number.POSITIVE_INFINITY };
    const claim = await claimPacedMessages(this.db, {
      limit: capacity,
      leaseMs: this.options.leaseMs,
      horizonMs: PACING_HORIZON_MS,
      chatIntervalMs: TELEGRAM_CHAT_INTERVAL_MS,
      expiredLeases,
    }, this.run);
    if (expiredLeases) this.#expiredLeasesCheckedAt = Date.now();
    this.#idle = claim.messages.length === 0;
    this.pacer.observe(claim.chats);
    let opensAt = Number.POSITIVE_INFINITY;
    for (const chat of claim.chats) opensAt = Math.min(opensAt, this.pacer.claimOpensAt(chat.liveChatId) || Number.POSITIVE_INFINITY);
    return { messages: claim.messages, opensAt };
  }
}
