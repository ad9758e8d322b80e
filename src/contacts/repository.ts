import { type Kysely, type Transaction, sql } from 'kysely';
import type { ContactRow, Database } from '../db/types.js';
import { type Keyset, type KeysetRow, afterKeyset, createdAtMicros } from '../db/keyset.js';

type Db = Kysely<Database> | Transaction<Database>;

export function insertContact(db: Db, values: { name: string; phones: string[]; emails: string[] }): Promise<ContactRow> {
  return db.insertInto('contacts').values(values).returningAll().executeTakeFirstOrThrow();
}

export function findContact(db: Db, id: string): Promise<ContactRow | undefined> {
  return db.selectFrom('contacts').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface ContactQuery {
  phone?: string | undefined;
  email?: string | undefined;
  limit: number;
  after?: Keyset | undefined;
}

/** Newest first; `limit + 1` rows so the caller can tell whether another page exists. */
export function findContacts(db: Db, query: ContactQuery): Promise<(ContactRow & KeysetRow)[]> {
  let q = db.selectFrom('contacts').selectAll().select(createdAtMicros);
  if (query.phone !== undefined) q = q.where(sql<boolean>`phones @> ARRAY[${query.phone}]::text[]`);
  if (query.email !== undefined) q = q.where(sql<boolean>`emails @> ARRAY[${query.email}]::text[]`);
  if (query.after) q = q.where(afterKeyset(query.after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
}

export function updateContact(db: Db, id: string, values: { name?: string; phones?: string[]; emails?: string[] }): Promise<ContactRow | undefined> {
  return db
    .updateTable('contacts')
    .set({ ...values, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Appends a phone or email to the contact unless it is already there. */
export async function addContactDetail(db: Db, id: string, kind: 'phones' | 'emails', value: string): Promise<void> {
  const column = sql.ref(kind);
  await db
    .updateTable('contacts')
    .set({ [kind]: sql`array_append(${column}, ${value}::text)`, updated_at: new Date() })
    .where('id', '=', id)
    .where(sql<boolean>`NOT (${value}::text = ANY(${column}))`)
    .execute();
}
