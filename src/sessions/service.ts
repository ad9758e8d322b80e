import type { Kysely, Transaction } from 'kysely';
import type { Account } from '../accounts/accounts.js';
import type { Clock } from '../clock.js';
import { addContactDetail, findContact, insertContact } from '../contacts/repository.js';
import { type ContactInput, contactNotFound, normaliseContactDetails } from '../contacts/service.js';
import type { ChannelContactRow, Database } from '../db/types.js';
import type { ChannelType } from '../domain/channel.js';
import { type ClaimedMessage, claimOfQueued } from '../delivery/outbox-repository.js';
import { type Page, pageOf } from '../db/keyset.js';
import { type FieldError, Refusal, validationFailed } from '../domain/refusal.js';
import { isOperatorAssigned } from '../live-chats/repository.js';
import type { LiveChat } from '../live-chats/model.js';
import type { LiveChatService } from '../live-chats/service.js';
import { type Message, type MessageContent, type Session, toMessage, toSession } from './model.js';
import { queueOutboundMessage } from './message-repository.js';
import * as repo from './repository.js';
import type { InitiationWriter } from './initiation-writer.js';
import * as rules from './rules.js';

export interface InitiateSessionInput {
  liveChatId: string;
  operatorId: string;
  contactId?: string | undefined;
  contact?: ContactInput | undefined;
  account?: string | undefined;
  message?: MessageContent | undefined;
}

/** Told about what the service did, for delivery wake-ups and metrics. */
export interface SessionEvents {
  /** Outbound messages were committed to the outbox. */
  messagesQueued(): void;
  sessionCreated(channel: LiveChat['channel']['type']): void;
  refused(code: string): void;
}

/**
 * The local dispatcher, which takes the first message of a new session straight away: the
 * message is queued already claimed for it, so that it is not claimed from the outbox again.
 */
export interface DeliveryHandoff {
  /** The lease to queue the message with, or null to queue it for any dispatcher. */
  leaseForNewMessage(): number | null;
  /** Delivers a message queued with that lease. */
  handOver(message: ClaimedMessage): void;
}

export const noDeliveryHandoff: DeliveryHandoff = { leaseForNewMessage: () => null, handOver() {} };

export const noSessionEvents: SessionEvents = { messagesQueued() {}, sessionCreated() {}, refused() {} };

export const sessionNotFound = (id: string) => new Refusal('session_not_found', `Session ${id} does not exist.`);
const operatorNotAssigned = (operatorId: string, liveChatId: string) =>
  new Refusal('operator_not_assigned', `Operator ${operatorId} is not assigned to live chat ${liveChatId}.`);
const alreadyOpen = (existingSessionId: string) =>
  new Refusal('session_already_open', `An open session with this person already exists on this live chat: ${existingSessionId}.`, {
    existingSessionId,
  });

/** The rules for starting, listing, closing and reopening sessions. */
export class SessionService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: LiveChatService,
    private readonly clock: Clock,
    /** Writes the common case's initiations, many to a statement under load. */
    private readonly writer: InitiationWriter,
    private readonly events: SessionEvents = noSessionEvents,
    private readonly handoff: DeliveryHandoff = noDeliveryHandoff,
  ) {}

  /**
   * Opens a session assigned to the operator and queues its first message, checking the
   * contract's rules in order. One transaction: a refusal keeps nothing, not even a contact
   * created inline. Throws ProblemError for every refusal.
   */
  async initiate(input: InitiateSessionInput): Promise<{ session: Session; message: Message | null }> {
    try {
      return await this.#initiate(input);
    } catch (error) {
      if (error instanceof Refusal) this.events.refused(error.code);
      throw error;
    }
  }

  async #initiate(input: InitiateSessionInput): Promise<{ session: Session; message: Message | null }> {
    const request = checkFormats(input);
    return (await this.#initiateAtOnce(input, request)) ?? this.#initiateStepByStep(input, request);
  }

  /**
   * The common case in one round trip: when every rule that can be judged without writing
   * holds, one statement creates the contact, the session and the message (together with
   * other requests' under load, see InitiationWriter), guarded by the operator's assignment,
   * the contact's existence and the open-session indexes. Returns null whenever anything is off,
   * so that #initiateStepByStep finds the refusal that comes first in the contract's order.
   */
  async #initiateAtOnce(input: InitiateSessionInput, request: CheckedRequest): Promise<{ session: Session; message: Message | null } | null> {
    // The contact's own details are needed to pick the account for it.
    if (input.contactId !== undefined && !request.givenAccount) return null;
    const channel = await this.liveChats.channelTypeOf(input.liveChatId);
    if (!channel) return null;

    const now = this.clock.now();
    let reach: { account: Account; peer: string };
    try {
      reach = await this.#channelRules(channel, input.liveChatId, request.givenAccount, request.details, input.message, now);
    } catch (error) {
      if (error instanceof Refusal) return null;
      throw error;
    }
    const { account, peer } = reach;
    const addAccountTo = account.kind === 'phone' ? 'phones' : account.kind === 'email' ? 'emails' : null;
    const details = { ...request.details };
    if (addAccountTo && !details[addAccountTo].includes(account.value)) details[addAccountTo] = [...details[addAccountTo], account.value];

    const written = await this.writer.write({
      liveChatId: input.liveChatId,
      channel,
      operatorId: input.operatorId,
      contact: input.contactId !== undefined ? { id: input.contactId } : { name: input.contact!.name, ...details },
      account: account.value,
      addAccountTo: input.contactId !== undefined ? addAccountTo : null,
      peer,
      message: input.message ? { text: input.message.text ?? null, template: input.message.template ?? null } : null,
      leaseMs: input.message ? this.handoff.leaseForNewMessage() : null,
      at: now,
    });
    // Not written: the operator is not assigned, the contact is gone or the person is held by
    // an open session; the step-by-step path finds which refusal comes first.
    if (!written) return null;
    this.events.sessionCreated(channel);
    if (written.message?.locked_until) this.handoff.handOver(claimOfQueued(written.session, written.message, written.message.locked_until));
    else if (written.message) this.events.messagesQueued();
    return { session: toSession(written.session), message: written.message ? toMessage(written.message) : null };
  }

  /** The contract's checks one after another, each with its own refusal. */
  async #initiateStepByStep(input: InitiateSessionInput, request: CheckedRequest): Promise<{ session: Session; message: Message | null }> {
    // 2–4. Live chat, operator, contact.
    const liveChat = await this.liveChats.get(input.liveChatId);
    const channel = liveChat.channel.type;
    if (!(await isOperatorAssigned(this.db, liveChat.id, input.operatorId))) throw operatorNotAssigned(input.operatorId, liveChat.id);
    let details = request.details;
    if (input.contactId !== undefined) {
      const existing = await findContact(this.db, input.contactId);
      if (!existing) throw contactNotFound(input.contactId);
      details = existing;
    }

    // 5–7. The account fits the channel, templates only where they exist, the channel's rules.
    const now = this.clock.now();
    const { account, peer } = await this.#channelRules(channel, liveChat.id, request.givenAccount, details, input.message, now);

    // 8–9. One open session per person, then the session and its message in one transaction.
    for (let attempt = 0; ; attempt++) {
      const result = await this.db.transaction().execute(async (trx) => {
        const contactId = input.contactId ?? (await insertContact(trx, { name: input.contact!.name, ...details })).id;
        await addAccountToContact(trx, contactId, account, details);
        const row = await repo.insertOpenSession(trx, { liveChatId: liveChat.id, channel, contactId, account: account.value, peer, operatorId: input.operatorId });
        if (!row) {
          const existing = await repo.findOpenSession(trx, liveChat.id, { account: account.value, contactId, peer });
          // Rolls back the inline contact too.
          throw existing ? alreadyOpen(existing.id) : new RetryInitiation();
        }
        const message = input.message ? await queueOutboundMessage(trx, { id: row.id, liveChatId: liveChat.id }, input.message, now) : undefined;
        return { row, message };
      }).catch((error: unknown) => {
        // The winner of a race closed its session before we could name it: try once more.
        if (error instanceof RetryInitiation && attempt < 2) return null;
        if (error instanceof RetryInitiation) throw new Refusal('session_already_open', 'A concurrent request holds this person.');
        throw error;
      });
      if (!result) continue;
      this.events.sessionCreated(channel);
      if (result.message) this.events.messagesQueued();
      return { session: toSession(result.row), message: result.message ? toMessage(result.message) : null };
    }
  }

  /**
   * Checks 5–7 of the contract: picks the account that reaches the person and checks that it
   * fits the channel, that a template is sent only on WhatsApp, that a Telegram person wrote to
   * the bot, and that WhatsApp free text is inside the 24-hour window. Throws the refusal.
   */
  async #channelRules(
    channel: ChannelType,
    liveChatId: string,
    givenAccount: Account | undefined,
    details: { phones: string[]; emails: string[] },
    message: MessageContent | undefined,
    now: Date,
  ): Promise<{ account: Account; peer: string }> {
    const account = rules.resolveAccount(channel, givenAccount, details);
    rules.assertTemplateSupported(channel, message);
    let telegramContact: ChannelContactRow | undefined;
    if (channel === 'telegram') telegramContact = await rules.requireTelegramPriorContact(this.db, liveChatId, account);
    if (channel === 'whatsapp') await rules.requireWhatsAppWindow(this.db, liveChatId, account.value, message, now);
    return { account, peer: rules.peerOf(channel, account, telegramContact) };
  }

  /** Returns the session or throws 404 session_not_found. */
  async get(id: string): Promise<Session> {
    const row = await repo.findSession(this.db, id);
    if (!row) throw sessionNotFound(id);
    return toSession(row);
  }

  /** Newest first with an opaque cursor; `account` is matched in its normalised form. */
  async list(query: repo.SessionQuery): Promise<Page<Session>> {
    let account = query.account;
    if (account !== undefined) {
      const errors: FieldError[] = [];
      account = rules.parseAccountField(account, errors)?.value;
      if (errors.length > 0) throw validationFailed(errors);
    }
    const page = pageOf(await repo.listSessions(this.db, { ...query, account }), query.limit);
    return { items: page.items.map(toSession), next: page.next };
  }

  /** Closes the session; closing a closed one changes nothing. A given operator must be assigned. */
  async close(id: string, operatorId: string | undefined): Promise<Session> {
    const session = await this.get(id);
    if (operatorId !== undefined && !(await isOperatorAssigned(this.db, session.liveChatId, operatorId))) {
      throw operatorNotAssigned(operatorId, session.liveChatId);
    }
    const closed = await repo.closeSession(this.db, id, this.clock.now());
    return closed ? toSession(closed) : this.get(id);
  }

  /**
   * Opens a closed session again, assigned to `operatorId`, with the same checks as
   * initiation, and queues the optional message in the same transaction.
   */
  async reopen(id: string, operatorId: string, message: MessageContent | undefined): Promise<{ session: Session; message: Message | null }> {
    const contentErrors = rules.messageContentErrors(message, '/message');
    if (contentErrors.length > 0) throw validationFailed(contentErrors);
    const currentRow = await repo.findSession(this.db, id);
    if (!currentRow) throw sessionNotFound(id);
    const current = toSession(currentRow);
    if (!(await isOperatorAssigned(this.db, current.liveChatId, operatorId))) throw operatorNotAssigned(operatorId, current.liveChatId);
    if (current.status === 'open') throw alreadyOpen(current.id);
    rules.assertTemplateSupported(current.channel, message);
    const account = rules.storedAccount(current.account);
    if (current.channel === 'telegram') await rules.requireTelegramPriorContact(this.db, current.liveChatId, account);
    const now = this.clock.now();
    if (current.channel === 'whatsapp') await rules.requireWhatsAppWindow(this.db, current.liveChatId, current.account, message, now);

    try {
      const result = await this.db.transaction().execute(async (trx) => {
        const locked = await repo.findSessionForUpdate(trx, id);
        if (!locked) throw sessionNotFound(id);
        if (locked.status === 'open') throw alreadyOpen(locked.id);
        const row = await repo.reopenSession(trx, id, operatorId, now);
        const queued = message ? await queueOutboundMessage(trx, { id: row.id, liveChatId: row.live_chat_id }, message, now) : undefined;
        return { row, queued };
      });
      if (result.queued) this.events.messagesQueued();
      return { session: toSession(result.row), message: result.queued ? toMessage(result.queued) : null };
    } catch (error) {
      if (!repo.isOpenSessionConflict(error)) throw error;
      const existing = await repo.findOpenSession(this.db, current.liveChatId, { account: current.account, contactId: current.contactId, peer: currentRow.peer });
      throw alreadyOpen(existing?.id ?? current.id);
    }
  }

  /** Loads an open session for an operator's message, or refuses it. */
  async requireOpenForOperator(id: string, operatorId: string): Promise<Session> {
    const session = await this.get(id);
    if (!(await isOperatorAssigned(this.db, session.liveChatId, operatorId))) throw operatorNotAssigned(operatorId, session.liveChatId);
    if (session.status !== 'open') throw new Refusal('session_not_open', `Session ${id} is closed; reopen it first.`);
    return session;
  }
}

/** What check 1 (formats) yields: the parsed account and the inline contact's normalised details. */
interface CheckedRequest {
  givenAccount: Account | undefined;
  details: { phones: string[]; emails: string[] };
}

/** Check 1 of the contract: every format at once, as one 400 validation_failed. */
function checkFormats(input: InitiateSessionInput): CheckedRequest {
  const errors: FieldError[] = [];
  if ((input.contactId === undefined) === (input.contact === undefined)) {
    errors.push({ field: '/contactId', code: 'contact_choice_required', message: 'Give exactly one of contactId and contact.' });
  }
  const givenAccount = rules.parseAccountField(input.account, errors);
  const inline = input.contact ? normaliseContactDetails(input.contact, '/contact') : undefined;
  if (inline) errors.push(...inline.errors);
  errors.push(...rules.messageContentErrors(input.message, '/message'));
  if (errors.length > 0) throw validationFailed(errors);
  return { givenAccount, details: { phones: inline?.phones ?? [], emails: inline?.emails ?? [] } };
}

class RetryInitiation extends Error {}


/** "An account that the contact lacks is added to the contact" (phones and emails only). */
async function addAccountToContact(trx: Transaction<Database>, contactId: string, account: Account, known: { phones: string[]; emails: string[] }) {
  if (account.kind === 'phone' && !known.phones.includes(account.value)) await addContactDetail(trx, contactId, 'phones', account.value);
  if (account.kind === 'email' && !known.emails.includes(account.value)) await addContactDetail(trx, contactId, 'emails', account.value);
}
