import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { type OutboundMessage, type SendResult, transient } from '../channels/channel-client.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { Database } from '../db/types.js';
import type { LiveChat } from '../live-chats/model.js';
import type { OutcomeRecorder } from './outcome-recorder.js';
import { prepareOutboundMessage } from './outbound-message.js';
import { type ClaimedMessage, releaseClaims } from './outbox-repository.js';

export interface AttemptContext {
  db: Kysely<Database>;
  channels: ChannelRegistry;
  liveChats: { get(id: string): Promise<LiveChat> };
  outcomes: OutcomeRecorder;
  maxAttempts: number;
  /** Fires when shutdown cancels deliveries: the provider call is aborted, or not made. */
  shutdown: AbortSignal;
  log: FastifyBaseLogger;
}

/**
 * One delivery attempt of a claimed message: prepare it for its channel, call the provider
 * outside any transaction, record the outcome. Returns when a retry is due (epoch ms), if one
 * was scheduled. Never throws: bookkeeping that fails leaves the message to its lease.
 */
export async function attemptDelivery(message: ClaimedMessage, context: AttemptContext): Promise<number | null> {
  // Made only when something is logged: most deliveries log nothing.
  let child: FastifyBaseLogger | undefined;
  const log = () => (child ??= context.log.child({ messageId: message.id, sessionId: message.sessionId, attempt: message.attempts }));
  try {
    if (message.attempts > context.maxAttempts) {
      await context.outcomes.exhausted(message);
      return null;
    }
    const prepared = await prepareOutboundMessage(context.db, message);
    let result: SendResult;
    if ('outcome' in prepared) {
      result = prepared;
    } else {
      const liveChat = await context.liveChats.get(message.liveChatId);
      if (context.shutdown.aborted) {
        await releaseClaims(context.db, [message]);
        return null;
      }
      result = await send(context, liveChat, prepared);
    }
    return await context.outcomes.record(message, result, log);
  } catch (error) {
    log().error({ err: error }, 'delivery bookkeeping failed; the message is retried once its lease runs out');
    return null;
  }
}

async function send(context: AttemptContext, liveChat: LiveChat, message: OutboundMessage): Promise<SendResult> {
  // Retried, not failed: the right SECRETS_KEY may be configured again.
  if (!liveChat.secretsReadable) return transient('secrets_unreadable', 'The live chat’s channel secrets cannot be decrypted with SECRETS_KEY.');
  try {
    return await context.channels.clientFor(liveChat.channel.type).send(liveChat, message, context.shutdown);
  } catch (error) {
    // A client must not throw; if one does, treat it as a passing fault.
    return transient('client_error', error instanceof Error ? error.message : String(error));
  }
}
