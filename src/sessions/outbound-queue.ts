import type { ChannelType } from '../domain/channel.js';
import type { MessageTemplate } from '../domain/message.js';

/** How a new outbound message enters the outbox, as delivery decides; written with the message. */
export interface OutboxEntry {
  /** Held by a dispatcher until then (it is given the message once committed), or null: any may claim it. */
  lockedUntil: Date | null;
  /** Delivery attempts counted as it is written. */
  attempts: number;
}

/** An entry any dispatcher may claim. */
export const UNCLAIMED: OutboxEntry = { lockedUntil: null, attempts: 0 };

/** A committed outbound message, with what delivery needs of its session. */
export interface QueuedMessage {
  id: string;
  sessionId: string;
  liveChatId: string;
  channel: ChannelType;
  account: string;
  peer: string;
  seq: number;
  text: string | null;
  template: MessageTemplate | null;
  subject: string | null;
  attempts: number;
  lockedUntil: Date | null;
}

/**
 * Delivery, as the sessions module needs it: how a message it writes enters the outbox, and
 * word once messages were committed. delivery/ implements it (the lease, handing a message to
 * this replica's dispatcher, waking the others); sessions never claims a message.
 */
export interface OutboundQueue {
  /**
   * The entry for a message nothing can precede — the first of a new session on the live
   * chat — asked right before it is written: delivery may let this replica's dispatcher hold it already.
   */
  entryForFirstMessage(liveChatId: string): OutboxEntry;
  /** The messages were committed to the outbox (with the entries asked for). Never throws. */
  committed(messages: readonly QueuedMessage[]): void;
}

/** No delivery in this process (tests of the rules, a replica without a dispatcher). */
export const noOutboundQueue: OutboundQueue = { entryForFirstMessage: () => UNCLAIMED, committed() {} };
