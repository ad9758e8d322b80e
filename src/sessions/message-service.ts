import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { operatorAssigned } from './checks.js';
import { notOptedOut } from './consent-check.js';
import { catalogueVersionOf } from './initiation.js';
import { type MessageInput, checkMessage } from './formats.js';
import { type Message, toMessage, toQueuedMessage } from './model.js';
import { insertOutboundMessage, listSessionMessages } from './message-repository.js';
import { type OutboundQueue, UNCLAIMED } from './outbound-queue.js';
import type { Pipeline } from './pipeline.js';
import { findSession } from './repository.js';
import { sessionNotFound } from './service.js';

/** Operators' messages on open sessions, and a session's message history. */
export class MessageService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly pipeline: Pipeline,
    private readonly queue: OutboundQueue,
    private readonly clock: Clock,
  ) {}

  /**
   * Queues a message on an open session for delivery, by the same checks as initiation: the
   * session is open, the operator assigned, the content fits the channel (and the template its
   * catalogue), the person has not opted out, WhatsApp free text is inside the 24-hour window.
   * Throws the refusal.
   */
  async send(sessionId: string, operatorId: string, input: MessageInput): Promise<Message> {
    const content = checkMessage(input, '');
    const now = this.clock.now();
    const { session, message } = await this.pipeline.run(
      { kind: 'send', sessionId, operatorId, message: content, now },
      {
        guards: [operatorAssigned.name, notOptedOut.name],
        write: async (_reach, facts) => {
          const session = facts.session!;
          const catalogueVersion = catalogueVersionOf(facts);
          const message = await insertOutboundMessage(this.db, { sessionId, operatorId, content, catalogueVersion, outbox: UNCLAIMED, at: now });
          return message && { session, message };
        },
      },
    );
    this.queue.committed([
      toQueuedMessage({ id: session.id, live_chat_id: session.liveChatId, channel: session.channel, account: session.account, peer: session.peer }, message),
    ]);
    return toMessage(message);
  }

  /** One page of the session's messages, oldest first; session_not_found when there is no such session. */
  async list(sessionId: string, page: { limit: number; afterSeq?: number | undefined }): Promise<{ items: Message[]; next: number | null }> {
    if (!(await findSession(this.db, sessionId))) throw sessionNotFound(sessionId);
    const rows = await listSessionMessages(this.db, sessionId, page);
    const items = rows.slice(0, page.limit);
    return { items: items.map(toMessage), next: rows.length > page.limit ? Number(items.at(-1)!.seq) : null };
  }
}
