import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { type OutboundMessage, type SendResult, permanent, transient } from '../channels/channel-client.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { Database } from '../db/types.js';
import type { LiveChat } from '../live-chats/model.js';
import { OutcomeRecorder } from './outcome-recorder.js';
import { prepareOutboundMessage } from './outbound-message.js';
import { type ClaimedMessage, claimStanding, releaseClaims } from './outbox-repository.js';
import type { SlotTurn } from './pacing.js';

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

/** The context of every attempt: the outcome recorder with the retry policy, the channels, the live chats. */
export function attemptContext(o: Omit<AttemptContext, 'outcomes' | 'maxAttempts'> & ConstructorParameters<typeof OutcomeRecorder>[0]): AttemptContext {
  const outcomes = new OutcomeRecorder({ db: o.db, policy: o.policy, random: o.random, observer: o.observer, log: o.log, shutdown: o.shutdown });
  return { db: o.db, channels: o.channels, liveChats: o.liveChats, outcomes, maxAttempts: o.policy.maxAttempts, shutdown: o.shutdown, log: o.log };
}

/** Waits for the message's send slot and turn (see Pacer.waitForSlot); null when stopping came first. */
export type SlotWait = (message: ClaimedMessage) => Promise<SlotTurn | null>;

/** A message that waited this long for its slot is checked to be still ours and wanted before it goes. */
export const RECHECK_AFTER_WAIT_MS = 200;

/**
 * One delivery attempt of a claimed message: prepare it for its channel, wait for its send
 * slot, call the provider outside any transaction, record the outcome. The database work comes
 * before the slot, so that the call goes out on time. Returns when a retry is due (epoch ms),
 * if one was scheduled. Never throws: bookkeeping that fails leaves the message to its lease.
 *
 * A message that waited long for its slot is first checked to be still ours, and its person
 * not to have opted out meanwhile (then it fails `contact_opted_out`). One whose slot does not
 * come (stopping) goes back to the outbox untried.
 */
export async function attemptDelivery(message: ClaimedMessage, context: AttemptContext, untilSlot: SlotWait): Promise<number | null> {
  // Made only when something is logged: most deliveries log nothing.
  let child: FastifyBaseLogger | undefined;
  const log = () => (child ??= context.log.child({ messageId: message.id, sessionId: message.sessionId, attempt: message.attempts }));
  try {
    if (message.attempts > context.maxAttempts) {
      await context.outcomes.exhausted(message);
      return null;
    }
    const prepared = await prepareOutboundMessage(context.db, message);
    if ('outcome' in prepared) return await context.outcomes.record(message, prepared, log);
    const liveChat = await context.liveChats.get(message.liveChatId);
    const turn = await untilSlot(message);
    if (turn === null || context.shutdown.aborted) {
      turn?.done();
      await releaseClaims(context.db, [message]);
      return null;
    }
    let result: SendResult;
    try {
      if (turn.waitedMs >= RECHECK_AFTER_WAIT_MS) {
        const standing = await claimStanding(context.db, message);
        if (standing === 'lost') return null;
        if (standing === 'opted_out') return await context.outcomes.record(message, permanent('contact_opted_out', OPTED_OUT), log);
      }
      result = await send(context, liveChat, prepared);
    } finally {
      turn.done();
    }
    return await context.outcomes.record(message, result, log);
  } catch (error) {
    log().error({ err: error }, 'delivery bookkeeping failed; the message is retried once its lease runs out');
    return null;
  }
}

const OPTED_OUT = 'The person opted out of this live chat before the message was sent.';

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
