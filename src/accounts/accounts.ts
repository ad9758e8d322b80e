import { parsePhoneNumberFromString, validatePhoneNumberLength } from 'libphonenumber-js/max';
import type { ChannelType } from '../domain/channel.js';
import type { FieldError } from '../domain/refusal.js';
import { phoneFormatHint } from './phone-hint.js';

/** `telegram_user`: `tg:<user id>`, for a Telegram person with neither a shared phone nor a username. */
export type AccountKind = 'phone' | 'username' | 'email' | 'telegram_user';

/** A customer's address on a channel, normalised: E.164, `@username` lower-cased, `tg:<user id>`, or an email. */
export interface Account {
  kind: AccountKind;
  value: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: Omit<FieldError, 'field'> };

const PHONE_FORMATTING = /^[\d\s\-.()+]+$/;
// Practical RFC 5321/5322 subset: local part without spaces or quotes, a dotted domain.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
// Telegram usernames: 5–32 characters, letters, digits and underscores, starting with a letter.
const TELEGRAM_USERNAME = /^@[A-Za-z][A-Za-z0-9_]{3,31}$/;
// Telegram user ids: positive integers (up to 52 bits).
const TELEGRAM_USER = /^tg:[1-9]\d{0,15}$/;

// The WhatsApp Cloud API's test numbers: +1 555 …, outside the North American plan.
const WHATSAPP_TEST_PREFIX = '+1555';
let allowedPrefixes: readonly string[] = [WHATSAPP_TEST_PREFIX];

/**
 * E.164 prefixes (PHONE_ALLOW_PREFIXES) whose numbers are accepted when their length is
 * possible, without the numbering-plan check: ranges newer than the metadata, or a provider's
 * test numbers. Process-wide, like the numbering plans themselves; the app sets it at start.
 */
export function allowPhonePrefixes(prefixes: readonly string[]): void {
  allowedPrefixes = [WHATSAPP_TEST_PREFIX, ...prefixes];
}

/**
 * Normalises a phone number given in full international format (`+` and country code;
 * spaces, dashes, dots and parentheses allowed) to E.164. It must be valid in its country's
 * numbering plan (libphonenumber's full metadata), or possible and under an allowed prefix;
 * `possible` only checks the length (numbers a provider reported, and lookups of numbers stored
 * before). A number without `+` is refused with a hint that shows only real numbers.
 */
export function normalisePhone(input: string, check: 'valid' | 'possible' = 'valid'): ParseResult<string> {
  const trimmed = input.trim();
  if (!PHONE_FORMATTING.test(trimmed) || !/\d/.test(trimmed)) {
    return invalidPhone('Must be a phone number in full international format, e.g. +4915123456789.');
  }
  if (!trimmed.startsWith('+') || trimmed.indexOf('+', 1) !== -1) return invalidPhone(phoneFormatHint(trimmed));
  const parsed = parsePhoneNumberFromString(trimmed);
  if (!parsed || !parsed.isPossible() || parsed.number.length > 16) {
    const reason = validatePhoneNumberLength(trimmed);
    const why = reason === 'TOO_SHORT' ? ' (too short)' : reason === 'TOO_LONG' ? ' (too long)' : '';
    return invalidPhone(`${trimmed} is not a possible phone number${why}.`);
  }
  const accepted = check === 'possible' || parsed.isValid() || allowedPrefixes.some((prefix) => parsed.number.startsWith(prefix));
  if (!accepted) return invalidPhone(`${trimmed} is not a valid number in its country’s numbering plan.`);
  return { ok: true, value: parsed.number };
}

function invalidPhone(message: string): ParseResult<never> {
  return { ok: false, error: { code: 'invalid_phone_number', message } };
}

/**
 * The form a person's WhatsApp number is compared in (a WhatsApp session's peer, the phone of
 * someone who wrote): E.164, except for numbers WhatsApp may know in an older form than the
 * one dialled today, which are brought to today's form. Brazilian mobiles registered before
 * the ninth digit have a wa_id of 55 + area + 8 digits (6–9 first), today +55 area 9 + those
 * 8 digits; Mexican mobiles may have a wa_id with the 1 after 52 that Mexico dropped in 2019.
 * Without this, the reply of a person the operator wrote to would land on no session and open
 * no 24-hour window.
 */
export function whatsAppPeer(e164: string): string {
  const brazil = /^\+55([1-9]\d)([6-9]\d{7})$/.exec(e164);
  if (brazil) return `+55${brazil[1]}9${brazil[2]}`;
  const mexico = /^\+521(\d{10})$/.exec(e164);
  if (mexico) return `+52${mexico[1]}`;
  return e164;
}

/** Normalises an email address: trimmed, domain lower-cased (the local part is kept as given). */
export function normaliseEmail(input: string): ParseResult<string> {
  const trimmed = input.trim();
  if (trimmed.length > 254 || !EMAIL.test(trimmed)) {
    return { ok: false, error: { code: 'invalid_email', message: `${truncate(trimmed)} is not a valid email address.` } };
  }
  const at = trimmed.lastIndexOf('@');
  if (at > 64) {
    return { ok: false, error: { code: 'invalid_email', message: 'The part before @ is longer than 64 characters.' } };
  }
  return { ok: true, value: `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}` };
}

/** Parses an `account` field: `@username`, `tg:<user id>`, an email address (contains `@` after text) or a phone. */
export function parseAccount(input: string): ParseResult<Account> {
  const trimmed = input.trim();
  if (/^tg:/i.test(trimmed)) {
    if (!TELEGRAM_USER.test(trimmed.toLowerCase())) {
      return { ok: false, error: { code: 'invalid_telegram_user', message: 'A Telegram user is tg: and the numeric user id, e.g. tg:123456789.' } };
    }
    return { ok: true, value: { kind: 'telegram_user', value: trimmed.toLowerCase() } };
  }
  if (trimmed.startsWith('@')) {
    if (!TELEGRAM_USERNAME.test(trimmed)) {
      return { ok: false, error: { code: 'invalid_username', message: 'A Telegram username is @ and 5–32 letters, digits or underscores.' } };
    }
    return { ok: true, value: { kind: 'username', value: trimmed.toLowerCase() } };
  }
  if (trimmed.includes('@')) {
    const email = normaliseEmail(trimmed);
    return email.ok ? { ok: true, value: { kind: 'email', value: email.value } } : email;
  }
  const phone = normalisePhone(trimmed);
  return phone.ok ? { ok: true, value: { kind: 'phone', value: phone.value } } : phone;
}

const KINDS_BY_CHANNEL: Record<ChannelType, readonly AccountKind[]> = {
  whatsapp: ['phone'],
  telegram: ['phone', 'username', 'telegram_user'],
  email: ['email'],
};

/** Whether an account of this kind can reach a person on this channel. */
export function accountFitsChannel(kind: AccountKind, channel: ChannelType): boolean {
  return KINDS_BY_CHANNEL[channel].includes(kind);
}

/** The kind of contact detail a channel falls back to when `account` is omitted. */
export function defaultAccountKind(channel: ChannelType): 'phone' | 'email' {
  return channel === 'email' ? 'email' : 'phone';
}

/** Masks an account for logs: `+4915*****789`, `a***@example.com`, `@an***`. */
export function maskAccount(value: string): string {
  if (value.startsWith('+')) return value.length <= 8 ? `${value.slice(0, 3)}***` : `${value.slice(0, 5)}${'*'.repeat(value.length - 8)}${value.slice(-3)}`;
  const at = value.indexOf('@');
  if (at > 0) return `${value.charAt(0)}***${value.slice(at)}`;
  if (at === 0) return `${value.slice(0, 3)}***`;
  return '***';
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
