import type { Static } from 'typebox';
import { type Account, parseAccount } from '../accounts/accounts.js';
import { type ContactInput, normaliseContactDetails } from '../contacts/service.js';
import type { MessageContent } from '../domain/message.js';
import { templateErrors, templateOf } from './template-formats.js';
import { type FieldError, validationFailed } from '../domain/refusal.js';
import type { MessageContentSchema } from './schemas.js';

/** A message body as the API takes it: exactly one of text and template (checked here). */
export type MessageInput = Static<typeof MessageContentSchema>;

/** A contact's phones (E.164) and emails (lower-cased domain). */
export interface ContactDetails {
  phones: string[];
  emails: string[];
}

/** Field errors for a message body that must carry exactly one of text and template. */
export function messageErrors(message: MessageInput | undefined, pointer: string): FieldError[] {
  if (!message) return [];
  const has = Number(message.text !== undefined) + Number(message.template !== undefined);
  if (has !== 1) return [{ field: pointer, code: has === 0 ? 'message_content_required' : 'message_content_ambiguous', message: 'Give exactly one of text and template.' }];
  if (message.subject !== undefined && message.template !== undefined) {
    return [{ field: `${pointer}/subject`, code: 'subject_without_text', message: 'A subject goes with an email’s text, not with a template.' }];
  }
  return message.template ? templateErrors(message.template, `${pointer}/template`) : [];
}

function toContent(message: MessageInput): MessageContent {
  return message.template !== undefined
    ? { template: templateOf(message.template) }
    : { text: message.text!, ...(message.subject !== undefined ? { subject: message.subject } : {}) };
}

/** Check 1 for a message alone (reopen, send): its content, or 400 validation_failed. */
export function checkMessage(message: MessageInput, pointer: string): MessageContent;
export function checkMessage(message: MessageInput | undefined, pointer: string): MessageContent | undefined;
export function checkMessage(message: MessageInput | undefined, pointer: string): MessageContent | undefined {
  const errors = messageErrors(message, pointer);
  if (errors.length > 0) throw validationFailed(errors);
  return message && toContent(message);
}

/** Parses `account` with its JSON Pointer (under `pointer`); undefined input stays undefined. */
export function parseAccountField(input: string | undefined, errors: FieldError[], pointer = ''): Account | undefined {
  if (input === undefined) return undefined;
  const parsed = parseAccount(input);
  if (parsed.ok) return parsed.value;
  errors.push({ field: `${pointer}/account`, ...parsed.error });
  return undefined;
}

/** A POST /sessions body after check 1: parsed account, normalised inline contact, one content type. */
export interface CheckedInitiation {
  contactId: string | null;
  inlineContact: (ContactDetails & { name: string }) | null;
  account: Account | undefined;
  message: MessageContent | undefined;
}

type InitiationInput = { contactId?: string | undefined; contact?: ContactInput | undefined; account?: string | undefined; message?: MessageInput | undefined };

/** Check 1 of the contract for POST /sessions: every format at once, as one 400 validation_failed. */
export function checkInitiationFormats(input: InitiationInput): CheckedInitiation {
  const { errors, checked } = parseInitiation(input, '');
  if (errors.length > 0) throw validationFailed(errors);
  return checked;
}

/** Check 1's field errors of one initiation (a batch's recipient: under `pointer`, e.g. `/recipients/17`). */
export function initiationFormatErrors(input: InitiationInput, pointer: string): FieldError[] {
  return parseInitiation(input, pointer).errors;
}

/** Parses and normalises an initiation once, collecting every format error. */
function parseInitiation(input: InitiationInput, pointer: string): { errors: FieldError[]; checked: CheckedInitiation } {
  const errors: FieldError[] = [];
  if ((input.contactId === undefined) === (input.contact === undefined)) {
    errors.push({ field: `${pointer}/contactId`, code: 'contact_choice_required', message: 'Give exactly one of contactId and contact.' });
  }
  const account = parseAccountField(input.account, errors, pointer);
  const inline = input.contact ? normaliseContactDetails(input.contact, `${pointer}/contact`) : undefined;
  if (inline) errors.push(...inline.errors);
  errors.push(...messageErrors(input.message, `${pointer}/message`));
  return {
    errors,
    checked: {
      contactId: input.contactId ?? null,
      inlineContact: input.contact ? { name: input.contact.name, phones: inline?.phones ?? [], emails: inline?.emails ?? [] } : null,
      account,
      message: input.message && toContent(input.message),
    },
  };
}
