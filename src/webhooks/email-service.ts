import type { Kysely } from 'kysely';
import { normaliseEmail } from '../accounts/accounts.js';
import type { Clock } from '../clock.js';
import type { Database, SessionRow } from '../db/types.js';
import { Refusal, validationFailed } from '../domain/refusal.js';
import type { EmailChannel } from '../live-chats/model.js';
import type { LiveChatService } from '../live-chats/service.js';
import { storeInboundMessage } from '../sessions/inbound.js';
import { type InboundEmail, parseInboundEmail } from './email-content.js';
import { recordProcessedEvent } from './inbound-repository.js';
import { secretsMatch } from './signature.js';
import { webhookChannel } from './webhook-channel.js';

export interface EmailOutcome {
  outcome: 'processed' | 'duplicate';
  sessionId: string | null;
}

/** Inbound email: a raw message, as a mail server's pipe or an inbound-mail service posts it. */
export class EmailWebhookService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
    private readonly clock: Clock,
  ) {}

  /**
   * Checks `Authorization: Bearer <inboundSecret>` in constant time. Throws 404
   * live_chat_not_found (unknown or not an inbox) and 401 invalid_inbound_secret (wrong,
   * missing, or the inbox has no inbound secret and so takes no mail in).
   */
  async authenticate(liveChatId: string, authorization: string | undefined): Promise<EmailChannel> {
    const channel = await webhookChannel(this.liveChats, liveChatId, 'email');
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!channel.inboundSecret || !secretsMatch(token, channel.inboundSecret)) {
      throw new Refusal('invalid_inbound_secret', 'Authorization must be `Bearer <inboundSecret>` of this inbox.');
    }
    return channel;
  }

  /**
   * Stores an email in one transaction: on the session whose sent message it answers
   * (In-Reply-To, References) while that session is open, else on the sender's open session,
   * else on a new session in the queue. Attachments are kept as media metadata, each further
   * one as a message of its own. The same Message-ID twice is stored once.
   */
  async handleEmail(liveChatId: string, raw: Buffer): Promise<EmailOutcome> {
    const email = await parseInboundEmail(raw);
    const sender = email.from ? normaliseEmail(email.from.address) : null;
    if (!sender?.ok) throw validationFailed([{ field: '', code: 'invalid_email', message: 'The message has no valid sender (From) address.' }]);
    const account = sender.value;
    const at = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      if (!(await recordProcessedEvent(trx, liveChatId, `email:${email.messageId}`, at))) return { outcome: 'duplicate', sessionId: null };
      const thread = await answeredSession(trx, liveChatId, email);
      const person = { liveChatId, channel: 'email' as const, account, peer: account.toLowerCase(), name: email.from!.name || account, detail: { column: 'emails' as const, value: account } };
      const [first, ...more] = email.attachments;
      const stored = await storeInboundMessage(
        trx,
        person,
        { kind: 'text', text: email.text, media: first?.media ?? null, subject: email.subject, providerMessageId: email.messageId, at },
        thread ? { session: thread } : {},
      );
      if (!stored) return { outcome: 'duplicate', sessionId: null };
      for (const [i, attachment] of more.entries()) {
        const providerMessageId = `${email.messageId}#${i + 2}`;
        await storeInboundMessage(trx, person, { ...attachment, text: null, subject: email.subject, providerMessageId, at }, { session: stored.session });
      }
      return { outcome: 'processed', sessionId: stored.session.id };
    });
  }
}

/** The open session of the message this email answers, if it names one the service sent. */
async function answeredSession(db: Kysely<Database>, liveChatId: string, email: InboundEmail): Promise<SessionRow | undefined> {
  if (email.answers.length === 0) return undefined;
  return db
    .selectFrom('messages as m')
    .innerJoin('sessions as s', 's.id', 'm.session_id')
    .selectAll('s')
    .where('m.live_chat_id', '=', liveChatId)
    .where('m.provider_message_id', 'in', email.answers)
    .where('m.direction', '=', 'outbound')
    .where('s.status', '=', 'open')
    .orderBy('m.seq', 'desc')
    .limit(1)
    .executeTakeFirst();
}
