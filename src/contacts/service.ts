import type { Kysely, Transaction } from 'kysely';
import { normaliseEmail, normalisePhone } from '../accounts/accounts.js';
import type { ContactRow, Database } from '../db/types.js';
import { type Keyset, type Page, pageOf } from '../db/keyset.js';
import { type FieldError, Refusal, validationFailed } from '../domain/refusal.js';
import * as repo from './repository.js';
import type { SearchPosition } from './search-repository.js';
import { searchContacts } from './search.js';

export interface Contact {
  id: string;
  name: string;
  phones: string[];
  emails: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ContactInput {
  name: string;
  phones?: string[] | undefined;
  emails?: string[] | undefined;
}

export function toContact(row: ContactRow): Contact {
  return { id: row.id, name: row.name, phones: row.phones, emails: row.emails, createdAt: row.created_at, updatedAt: row.updated_at };
}

export const contactNotFound = (id: string) => new Refusal('contact_not_found', `Contact ${id} does not exist.`);

/**
 * Normalises a contact's phones (E.164) and emails (lower-cased domain), dropping duplicates.
 * Every malformed entry is reported with its JSON Pointer under `pointer`.
 */
export function normaliseContactDetails(
  input: { phones?: string[] | undefined; emails?: string[] | undefined },
  pointer = '',
): { phones: string[] | undefined; emails: string[] | undefined; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const normalise = (values: string[] | undefined, field: 'phones' | 'emails') => {
    if (values === undefined) return undefined;
    const parse = field === 'phones' ? normalisePhone : normaliseEmail;
    const result: string[] = [];
    values.forEach((value, i) => {
      const parsed = parse(value);
      if (!parsed.ok) errors.push({ field: `${pointer}/${field}/${i}`, ...parsed.error });
      else if (!result.includes(parsed.value)) result.push(parsed.value);
    });
    return result;
  };
  return { phones: normalise(input.phones, 'phones'), emails: normalise(input.emails, 'emails'), errors };
}

/** The customer directory. */
export class ContactService {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates a contact, inside `db` when given (initiation creates one in its transaction). */
  async create(input: ContactInput, db: Kysely<Database> | Transaction<Database> = this.db): Promise<Contact> {
    const details = normaliseContactDetails(input);
    if (details.errors.length > 0) throw validationFailed(details.errors);
    const row = await repo.insertContact(db, { name: input.name, phones: details.phones ?? [], emails: details.emails ?? [] });
    return toContact(row);
  }

  async get(id: string): Promise<Contact> {
    const row = await repo.findContact(this.db, id);
    if (!row) throw contactNotFound(id);
    return toContact(row);
  }

  /** Exact match on the normalised phone or email; newest first, cursor-paginated. */
  async find(query: { phone?: string | undefined; email?: string | undefined; limit: number; after?: Keyset | undefined }): Promise<Page<Contact>> {
    const errors: FieldError[] = [];
    let phone: string | undefined;
    let email: string | undefined;
    if (query.phone !== undefined) {
      // Possible is enough to look up: numbers stored before the plan check still match.
      const parsed = normalisePhone(query.phone, 'possible');
      if (parsed.ok) phone = parsed.value;
      else errors.push({ field: '/phone', ...parsed.error });
    }
    if (query.email !== undefined) {
      const parsed = normaliseEmail(query.email);
      if (parsed.ok) email = parsed.value;
      else errors.push({ field: '/email', ...parsed.error });
    }
    if (errors.length > 0) throw validationFailed(errors);
    const page = pageOf(await repo.findContacts(this.db, { phone, email, limit: query.limit, after: query.after }), query.limit);
    return { items: page.items.map(toContact), next: page.next };
  }

  /**
   * The operator's search box: `q` matches a word prefix of the name, the start of an email, or
   * 3+ digits of a phone; best matches first (see searchContacts). It does not combine with an
   * exact phone or email lookup.
   */
  async search(query: { q: string; phone?: string | undefined; email?: string | undefined; limit: number; after?: SearchPosition | undefined }): Promise<Page<Contact, SearchPosition>> {
    const errors: FieldError[] = [];
    for (const field of ['phone', 'email'] as const) {
      if (query[field] !== undefined) errors.push({ field: `/${field}`, code: 'conflicts_with_q', message: `q searches; ${field} looks up an exact value: give one or the other.` });
    }
    if (query.q.includes('\u0000')) errors.push({ field: '/q', code: 'invalid_character', message: 'Text must not contain the NUL character (U+0000).' });
    if (errors.length > 0) throw validationFailed(errors);
    const page = await searchContacts(this.db, query);
    return { items: page.items.map(toContact), next: page.next };
  }

  /** Replaces the given fields; phones and emails are replaced whole, normalised. */
  async update(id: string, patch: Partial<ContactInput>): Promise<Contact> {
    const details = normaliseContactDetails(patch);
    if (details.errors.length > 0) throw validationFailed(details.errors);
    const values = {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(details.phones !== undefined ? { phones: details.phones } : {}),
      ...(details.emails !== undefined ? { emails: details.emails } : {}),
    };
    const row = await repo.updateContact(this.db, id, values);
    if (!row) throw contactNotFound(id);
    return toContact(row);
  }
}
