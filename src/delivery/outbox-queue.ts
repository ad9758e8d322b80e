import { type OutboundQueue, type OutboxEntry, type QueuedMessage, UNCLAIMED } from '../sessions/outbound-queue.js';
import type { Dispatcher } from './dispatcher.js';
import { claimOfQueued } from './outbox-repository.js';
import type { OutboxSignal } from './outbox-signal.js';

/**
 * The outbox as the sessions module needs it. A new session's first message may be queued
 * already claimed by this replica's dispatcher — it has capacity and nothing can precede that
 * message — which is then handed it right after the commit, with no claim query. Other
 * messages wake the local dispatcher (unless their live chat's send slots are all taken for
 * now) and, through NOTIFY, the other replicas'.
 */
export class OutboxQueue implements OutboundQueue {
  constructor(
    /** This replica's dispatcher, if it runs one. */
    private readonly dispatcher: () => Dispatcher | null,
    private readonly signal: OutboxSignal | null,
  ) {}

  entryForFirstMessage(liveChatId: string): OutboxEntry {
    const leaseMs = this.dispatcher()?.leaseForNewMessage(liveChatId) ?? null;
    return leaseMs === null ? UNCLAIMED : { lockedUntil: new Date(Date.now() + leaseMs), attempts: 1 };
  }

  committed(messages: readonly QueuedMessage[]): void {
    const dispatcher = this.dispatcher();
    const unclaimed = new Set<string>();
    for (const message of messages) {
      const { lockedUntil } = message;
      if (lockedUntil && dispatcher) dispatcher.handOver(claimOfQueued({ ...message, lockedUntil }));
      else unclaimed.add(message.liveChatId);
    }
    if (unclaimed.size === 0) return;
    dispatcher?.wakeFor(unclaimed);
    this.signal?.messagesQueued();
  }
}
