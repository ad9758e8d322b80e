import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from '../db/types.js';
import { validationFailed } from '../domain/refusal.js';
import { type Message, type MessageContent, toMessage } from './model.js';
import { listSessionMessages, queueOutboundMessage } from './message-repository.js';
import * as rules from './rules.js';
import { type SessionEvents, type SessionService, noSessionEvents } from './service.js';

/** Operators' messages on open sessions, and a session's message history. */
export class MessageService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly sessions: SessionService,
    private readonly clock: Clock,
    private readonly events: SessionEvents = noSessionEvents,
  ) {}

  /**
   * Queues a message on an open session for delivery. Refuses a closed session
   * (`session_not_open`), an unassigned operator, a template off WhatsApp and free text
   * outside the WhatsApp 24-hour window.
   */
  async send(sessionId: string, operatorId: string, content: MessageContent): Promise<Message> {
    const errors = rules.messageContentErrors(content, '');
    if (errors.length > 0) throw validationFailed(errors);
    const session = await this.sessions.requireOpenForOperator(sessionId, operatorId);
    rules.assertTemplateSupported(session.channel, content);
    const now = this.clock.now();
    if (session.channel === 'whatsapp') await rules.requireWhatsAppWindow(this.db, session.liveChatId, session.account, content, now);
    const row = await queueOutboundMessage(this.db, { id: session.id, liveChatId: session.liveChatId }, content, now);
    this.events.messagesQueued();
    return toMessage(row);
  }

  /** The session's messages, oldest first; 404 when the session does not exist. */
  async list(sessionId: string): Promise<Message[]> {
    await this.sessions.get(sessionId);
    return (await listSessionMessages(this.db, sessionId)).map(toMessage);
  }
}
