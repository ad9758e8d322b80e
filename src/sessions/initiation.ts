import type { Clock } from '../clock.js';
import type { ChannelType } from '../domain/channel.js';
import { Refusal } from '../domain/refusal.js';
import { type Facts, type Reach, contactExists, noOpenSession, operatorAssigned } from './checks.js';
import { consentKeys, notOptedOut } from './consent-check.js';
import type { ContactInput } from '../contacts/service.js';
import { type CheckedInitiation, type MessageInput, checkInitiationFormats, checkMessage } from './formats.js';
import type { BatchRecipientRef, CreateWrite, WrittenInitiation } from './initiation-repository.js';
import { type Message, type Session, toMessage, toQueuedMessage, toSession } from './model.js';
import { type OutboundQueue, UNCLAIMED } from './outbound-queue.js';
import type { Pipeline } from './pipeline.js';
import type { InitiationWriter } from './initiation-writer.js';

export interface InitiateSessionInput {
  liveChatId: string;
  operatorId: string;
  contactId?: string | undefined;
  contact?: ContactInput | undefined;
  account?: string | undefined;
  message?: MessageInput | undefined;
}

/** Told what initiation did, for metrics. Must not throw. */
export interface InitiationObserver {
  sessionCreated(channel: ChannelType): void;
  refused(code: string): void;
}

export const noInitiationObserver: InitiationObserver = { sessionCreated() {}, refused() {} };

export interface Initiated {
  session: Session;
  message: Message | null;
}

/**
 * Opening sessions: a new one with a customer (POST /sessions) or a closed one again (reopen).
 * Both go parse → load facts → decide → write → hand over, the rules in src/sessions/checks.ts,
 * the writes through the one InitiationWriter.
 */
export class SessionInitiation {
  constructor(
    private readonly pipeline: Pipeline,
    private readonly writer: InitiationWriter,
    private readonly queue: OutboundQueue,
    private readonly clock: Clock,
    private readonly observer: InitiationObserver = noInitiationObserver,
  ) {}

  /**
   * Opens a session assigned to the operator and queues its first message, or throws the
   * refusal the contract's checks give. A refusal keeps nothing, not even a contact created inline.
   */
  async initiate(input: InitiateSessionInput): Promise<Initiated> {
    try {
      return await this.#create(input, checkInitiationFormats(input));
    } catch (error) {
      if (error instanceof Refusal) this.observer.refused(error.code);
      throw error;
    }
  }

  /**
   * Initiates for a session batch's recipient, whose formats were checked when the batch was
   * accepted, by the same checks; the session is written only while the recipient's claim
   * holds, and marks the recipient created. Its message waits in the outbox for its turn.
   */
  initiateRecipient(input: InitiateSessionInput, recipient: BatchRecipientRef): Promise<Initiated> {
    return this.#create(input, checkInitiationFormats(input), recipient);
  }

  async #create(input: InitiateSessionInput, request: CheckedInitiation, recipient?: BatchRecipientRef): Promise<Initiated> {
    const ask = { kind: 'create', liveChatId: input.liveChatId, operatorId: input.operatorId, ...request, now: this.clock.now() } as const;
    const written = await this.pipeline.run(ask, {
      guards: [operatorAssigned.name, contactExists.name, notOptedOut.name, noOpenSession.name],
      write: (reach, facts) => {
        const outbox = request.message && !recipient ? this.queue.entryForFirstMessage(reach.liveChatId) : UNCLAIMED;
        return this.writer.write({ ...createWrite(ask, reach, facts, outbox), recipient });
      },
    });
    this.observer.sessionCreated(written.session.channel);
    return this.#handOver(written);
  }

  /** Opens a closed session again, assigned to `operatorId`, with the same checks as creation. */
  async reopen(sessionId: string, operatorId: string, messageInput: MessageInput | undefined): Promise<Initiated> {
    const message = checkMessage(messageInput, '/message');
    const now = this.clock.now();
    const written = await this.pipeline.run(
      { kind: 'reopen', sessionId, operatorId, message, now },
      {
        guards: [operatorAssigned.name, notOptedOut.name, noOpenSession.name],
        // Earlier messages of the session may still wait in the outbox: this one queues behind them.
        write: (_reach, facts) =>
          this.writer.write({ kind: 'reopen', sessionId, operatorId, message: message ?? null, catalogueVersion: catalogueVersionOf(facts), outbox: UNCLAIMED, at: now }),
      },
    );
    return this.#handOver(written);
  }

  #handOver(written: WrittenInitiation): Initiated {
    if (written.message) this.queue.committed([toQueuedMessage(written.session, written.message)]);
    return { session: toSession(written.session), message: written.message ? toMessage(written.message) : null };
  }
}

/** The write of a new session as decided: the account is added to the contact that lacks it. */
function createWrite(
  ask: { liveChatId: string; operatorId: string; now: Date } & ReturnType<typeof checkInitiationFormats>,
  reach: Required<Reach>,
  facts: Readonly<Facts>,
  outbox: CreateWrite['outbox'],
): CreateWrite {
  const { account } = reach;
  const column = account.kind === 'phone' ? 'phones' : account.kind === 'email' ? 'emails' : null;
  let contact: CreateWrite['contact'];
  if (ask.inlineContact) {
    const details = { ...ask.inlineContact };
    if (column && !details[column].includes(account.value)) details[column] = [...details[column], account.value];
    contact = details;
  } else {
    contact = { id: ask.contactId! };
  }
  return {
    kind: 'create',
    liveChatId: reach.liveChatId,
    channel: reach.channel,
    operatorId: ask.operatorId,
    contact,
    account: account.value,
    addAccountTo: ask.inlineContact ? null : column,
    peer: reach.peer,
    consentKeys: consentKeys(reach, facts),
    message: ask.message ?? null,
    catalogueVersion: catalogueVersionOf(facts),
    outbox,
    at: ask.now,
  };
}

/** The template catalogue's version check 6 read, for the write to guard; null when it read none. */
export const catalogueVersionOf = (facts: Readonly<Facts>) => facts.template?.catalogueVersion ?? null;
