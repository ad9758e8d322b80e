import type { FastifyBaseLogger } from 'fastify';
import { parseAccount } from '../accounts/accounts.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { RecipientError, RecipientOutcome } from '../domain/batch.js';
import { type FieldError, Refusal, validationFailed } from '../domain/refusal.js';
import { appendEvents } from '../events/log-repository.js';
import type { EventsAppended } from '../events/snapshots.js';
import { liveChatNotFound } from '../live-chats/service.js';
import { type MessageInput, initiationFormatErrors, messageErrors } from '../sessions/formats.js';
import { type BatchCounts, type BatchRow, type RecipientInput, type RecipientRow, countRecipients, endBatch, findBatch, hasPending, insertBatch, listRecipients, lockBatch } from './repository.js';

export const batchNotFound = (id: string) => new Refusal('batch_not_found', `Session batch ${id} does not exist.`);

/** At most this many field errors are reported for a refused batch: enough to fix, small to read. */
const MAX_FIELD_ERRORS = 50;

export interface Batch extends Omit<BatchRow, 'message'> {
  counts: BatchCounts;
}

export interface Recipient {
  index: number;
  reference: string | null;
  account: string | null;
  outcome: RecipientOutcome;
  sessionId: string | null;
  error: RecipientError | null;
}

/**
 * Session batches: one request that initiates with many people. Accepting a batch checks the
 * formats of every recipient (a bad one refuses the whole batch) and stores it; the recipients
 * are then initiated by the batch worker, each by the checks of POST /sessions.
 */
export class BatchService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly liveChats: { channelTypeOf(id: string): Promise<unknown> },
    private readonly events: EventsAppended,
    private readonly log: FastifyBaseLogger,
    /** Called once a batch was accepted, to start on it at once. */
    private readonly accepted: () => void = () => {},
  ) {}

  /** Accepts a batch: 404 for an unknown live chat, 400 with every format error's pointer. */
  async create(input: { liveChatId: string; operatorId: string; message: MessageInput; recipients: RecipientInput[] }): Promise<Batch> {
    const errors = batchFormatErrors(input.message, input.recipients);
    if (errors.length > 0) throw validationFailed(errors.slice(0, MAX_FIELD_ERRORS));
    if (!(await this.liveChats.channelTypeOf(input.liveChatId))) throw liveChatNotFound(input.liveChatId);
    const row = await insertBatch(this.db, input);
    this.log.info({ batchId: row.id, liveChatId: row.live_chat_id, total: row.total }, 'session batch started');
    this.accepted();
    return { ...withoutMessage(row), counts: { pending: row.total, created: 0, refused: 0, canceled: 0 } };
  }

  async get(id: string): Promise<Batch> {
    const row = await findBatch(this.db, id);
    if (!row) throw batchNotFound(id);
    return { ...withoutMessage(row), counts: await countRecipients(this.db, id) };
  }

  /** The batch's recipients in request order, a page at a time, optionally of one outcome. */
  async recipients(id: string, query: { outcome?: RecipientOutcome | undefined; afterIndex?: number | undefined; limit: number }): Promise<{ items: Recipient[]; next: number | null }> {
    if (!(await findBatch(this.db, id))) throw batchNotFound(id);
    const rows = await listRecipients(this.db, id, query);
    const items = rows.slice(0, query.limit);
    return { items: items.map(toRecipient), next: rows.length > query.limit ? items.at(-1)!.index : null };
  }

  /** Cancels a running batch: its pending recipients are canceled. A finished batch stays as it is. */
  async cancel(id: string): Promise<Batch> {
    const ended = await this.db.transaction().execute(async (trx) => {
      const row = await lockBatch(trx, id);
      if (!row) throw batchNotFound(id);
      return row.status === 'running' ? this.#end(trx, id, 'canceled') : null;
    });
    if (ended) this.events.appended();
    return ended ?? this.get(id);
  }

  /**
   * Ends the batch as done once nothing of it is pending. The batch row is locked first, so of
   * workers finishing its last recipients at once, the last to commit sees them all: the batch
   * ends, and `batch.completed` is written, exactly once.
   */
  async finishIfDone(id: string): Promise<boolean> {
    const ended = await this.db.transaction().execute(async (trx) => {
      const row = await lockBatch(trx, id);
      if (!row || row.status !== 'running' || (await hasPending(trx, id))) return null;
      return this.#end(trx, id, 'done');
    });
    if (ended) this.events.appended();
    return ended !== null;
  }

  async #end(trx: Parameters<typeof lockBatch>[0], id: string, status: 'done' | 'canceled'): Promise<Batch> {
    const row = await endBatch(trx, id, status);
    const batch = { ...withoutMessage(row), counts: await countRecipients(trx, id) };
    await appendEvents(trx, [{ type: 'batch.completed', liveChatId: row.live_chat_id, data: { batch: batchResponse(batch) } }]);
    this.log.info({ batchId: id, status, counts: batch.counts }, 'session batch finished');
    return batch;
  }
}

/** Check 1 for a whole batch: the message once, each recipient with its pointer. */
function batchFormatErrors(message: MessageInput, recipients: readonly RecipientInput[]): FieldError[] {
  const errors = messageErrors(message, '/message');
  recipients.forEach((recipient, i) => {
    errors.push(...initiationFormatErrors({ contactId: recipient.contactId, contact: recipient.contact, account: recipient.account }, `/recipients/${i}`));
    if (recipient.parameters !== undefined && message.template === undefined) {
      errors.push({ field: `/recipients/${i}/parameters`, code: 'parameters_without_template', message: 'Parameters fill a template message’s body.' });
    }
  });
  return errors;
}

function withoutMessage(row: BatchRow): Omit<BatchRow, 'message'> {
  const { message: _message, ...rest } = row;
  return rest;
}

function toRecipient(row: RecipientRow): Recipient {
  return {
    index: row.index,
    reference: row.reference,
    account: row.session_account ?? givenAccount(row.input.account),
    outcome: row.outcome,
    sessionId: row.session_id,
    error: row.error,
  };
}

/** The account a recipient was given, normalised when it parses. */
function givenAccount(account: string | undefined): string | null {
  if (account === undefined) return null;
  const parsed = parseAccount(account);
  return parsed.ok ? parsed.value.value : account;
}

/** A batch as the API answers it (and `batch.completed` carries it). */
export function batchResponse(batch: Batch) {
  return {
    id: batch.id,
    liveChatId: batch.live_chat_id,
    operatorId: batch.operator_id,
    status: batch.status,
    total: batch.total,
    counts: batch.counts,
    createdAt: new Date(batch.created_at).toISOString(),
    finishedAt: batch.finished_at ? new Date(batch.finished_at).toISOString() : null,
  };
}
