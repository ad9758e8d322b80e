import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { QueryRunner } from '../db/prepared.js';
import type { Database } from '../db/types.js';
import type { ClaimedMessage } from './outbox-repository.js';
import type { ChatPacingReport } from './paced-claim.js';
import { reserveSlots, slotTimes } from './pacing-repository.js';
import { ChatPacing } from './chat-pacing.js';

/** How far ahead a live chat's send slots are reserved (claims and handed-over messages alike). */
export const PACING_HORIZON_MS = 1_000;
/** Telegram: about one message a second to one chat. */
export const TELEGRAM_CHAT_INTERVAL_MS = 1_000;
/** A slot missed by at most this much (or half the spacing of slots, if more) is still used: a later send would bunch with the next ones. */
const LATE_SLOT_MS = 10;
const RESERVE_RETRY_MS = 250;
const MAX_CHATS = 10_000;

/** A send's turn (see waitForSlot): how long it waited, and `done()` once the provider answered. */
export interface SlotTurn {
  waitedMs: number;
  done(): void;
}

/**
 * This replica's side of pacing: every message goes out at a send slot of its live chat,
 * reserved in the live chat's shared pacing row, so that all replicas together stay within
 * its rate. Claimed messages come with their slot (see claimPacedMessages). Messages handed
 * over when they were queued take one from slots reserved ahead in small chunks, sized by the
 * recent demand, so that a busy live chat costs a reservation per chunk, not per message.
 *
 * New messages are handed over only while that does not jump the queue: not while claims see
 * the live chat's due messages waiting in the outbox, nor with more handed-over messages
 * waiting than half the horizon's slots.
 */
export class Pacer {
  readonly #chats = new Map<string, ChatPacing>();
  #stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: QueryRunner,
    private readonly log: FastifyBaseLogger,
    /** A send starts only with this much of its claim's lease left (the provider timeout and a margin). */
    private readonly leaseNeededMs: number,
    private readonly horizonMs = PACING_HORIZON_MS,
  ) {}

  /** Whether a new message of the live chat may be handed over to this replica already claimed. */
  acceptsHandover(liveChatId: string, now = Date.now()): boolean {
    const chat = this.#chats.get(liveChatId);
    if (!chat) return true;
    if (chat.backlogUntil > now) return false;
    return chat.hasFreeSlot(now) || chat.waiting.length < chat.maxWaiting(this.horizonMs);
  }

  /**
   * Waits until the message's slot — the one it was claimed with, or one reserved for it now —
   * and its turn: only a few sends of a live chat are in flight at once (one, up to 10 a
   * second), so that a send held up on its way (the process was busy) does not reach the
   * provider together with the next ones. A slot missed by more than a little is not used: the
   * message takes the next free one. Resolves with the wait (ms) and the turn to give back
   * once the provider answered, or null when pacing stopped first or the claim's lease ran low
   * meanwhile (the message is then the caller's to give back: another replica could take it).
   */
  async waitForSlot(message: ClaimedMessage, stopping: AbortSignal): Promise<SlotTurn | null> {
    const started = Date.now();
    const chat = this.#chat(message.liveChatId);
    // Leases shorter than that (as tests configure them) may at least half run down.
    const leaseNeeded = Math.min(this.leaseNeededMs, (message.lockedUntil.getTime() - started) / 2);
    let at = message.sendAt ? message.sendAt.getTime() : await this.#takeSlot(message.liveChatId);
    for (;;) {
      if (at === null || stopping.aborted) return null;
      try {
        const untilSlotMs = at - Date.now();
        if (untilSlotMs > 0) await sleep(untilSlotMs, undefined, { signal: stopping });
        await chat.turn(stopping);
        // Past the promises queued meanwhile (embedded PGlite runs queries as a chain of them),
        // to the point where the request is written at once: late by then means late.
        await setImmediate();
      } catch {
        return null;
      }
      const late = Date.now() - at > chat.lateTolerance(LATE_SLOT_MS);
      if (!late && message.lockedUntil.getTime() - Date.now() >= leaseNeeded) return { waitedMs: Date.now() - started, done: () => chat.sent() };
      chat.sent();
      if (!late) return null;
      at = await this.#takeSlot(message.liveChatId);
    }
  }

  /** What a claim saw: each live chat's next free slot, its rate, whether due messages were left. */
  observe(reports: readonly ChatPacingReport[], now = Date.now()): void {
    for (const report of reports) {
      const chat = this.#chat(report.liveChatId);
      chat.ratePerSecond = report.ratePerSecond;
      chat.nextSlotAt = report.nextSlotAt.getTime();
      chat.backlogUntil = report.backlog ? now + this.horizonMs : 0;
    }
  }

  /** When a claim could next take messages of the live chat (epoch ms); 0 when it can now (or nothing is known). */
  claimOpensAt(liveChatId: string, now = Date.now()): number {
    const opensAt = (this.#chats.get(liveChatId)?.nextSlotAt ?? 0) - this.horizonMs / 2;
    return opensAt > now ? opensAt : 0;
  }

  /** Stops reserving; messages still waiting for a slot get none (their waits resolve null). */
  stop(): void {
    this.#stopped = true;
    for (const chat of this.#chats.values()) chat.stop();
  }

  #takeSlot(liveChatId: string): Promise<number | null> {
    if (this.#stopped) return Promise.resolve(null);
    const chat = this.#chat(liveChatId);
    const now = Date.now();
    chat.noteDemand(now);
    const slot = chat.takeFreeSlot(now);
    if (slot !== undefined) return Promise.resolve(slot);
    const waiting = new Promise<number | null>((resolve) => chat.waiting.push(resolve));
    void this.#reserve(liveChatId, chat);
    return waiting;
  }

  /** Reserves slots for the messages waiting and the demand expected next; tries again later for those left over. */
  async #reserve(liveChatId: string, chat: ChatPacing): Promise<void> {
    if (chat.reserving || chat.retry || this.#stopped || chat.waiting.length === 0) return;
    chat.reserving = true;
    let retryInMs = RESERVE_RETRY_MS;
    try {
      const wanted = chat.waiting.length + chat.expectedDemand();
      const slots = await reserveSlots(this.db, { liveChatId, wanted, horizonMs: this.horizonMs }, this.run);
      if (!slots) {
        // No such live chat (any more): let the messages go on, to fail as delivery finds it.
        chat.grant([Date.now()], { all: true });
        return;
      }
      chat.ratePerSecond = slots.ratePerSecond;
      chat.nextSlotAt = slots.nextSlotAt.getTime();
      chat.grant(slotTimes(slots));
      retryInMs = Math.max(10, chat.nextSlotAt - this.horizonMs / 2 - Date.now());
    } catch (error) {
      this.log.warn({ err: error, liveChatId }, 'could not reserve send slots; trying again');
    } finally {
      chat.reserving = false;
    }
    if (chat.waiting.length > 0 && !this.#stopped) {
      chat.retry = setTimeout(() => {
        chat.retry = null;
        void this.#reserve(liveChatId, chat);
      }, retryInMs);
    }
  }

  #chat(liveChatId: string): ChatPacing {
    let chat = this.#chats.get(liveChatId);
    if (!chat) {
      if (this.#chats.size >= MAX_CHATS) for (const [id, idle] of this.#chats) if (idle.isIdle()) this.#chats.delete(id);
      chat = new ChatPacing();
      this.#chats.set(liveChatId, chat);
    }
    return chat;
  }
}
