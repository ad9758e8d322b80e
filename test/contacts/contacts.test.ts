import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JsonResponse, type TestApp, call, createTestApp } from '../support/app.js';
import { newPhone } from '../support/fixtures.js';
import { expectFieldError, expectProblem } from '../support/problems.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const spaced = (phone: string) => `${phone.slice(0, 3)} ${phone.slice(3, 6)} ${phone.slice(6)}`;

async function create(body: Record<string, unknown>): Promise<JsonResponse> {
  const created = await call(t.app, 'POST', '/contacts', body);
  expect(created.statusCode, created.body).toBe(201);
  return created;
}

async function allPages(query: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: JsonResponse = await call(t.app, 'GET', `/contacts?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.statusCode, page.body).toBe(200);
    expect(page.data.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.data.items.map((c: { id: string }) => c.id));
    cursor = page.data.nextCursor;
  } while (cursor && ids.length < 100);
  return ids;
}

describe('POST /contacts', () => {
  it('creates a contact with phones in E.164 and emails with a lower-cased domain', async () => {
    const phone = newPhone();
    const created = await create({ name: 'Ann Example', phones: [spaced(phone), phone], emails: ['Ann.Example@Mail.EXAMPLE.com'] });
    expect(created.headers.location).toBe(`/contacts/${created.data.id}`);
    expect(created.data).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'Ann Example',
      phones: [phone],
      emails: ['Ann.Example@mail.example.com'],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it('creates a contact with a name only', async () => {
    const created = await create({ name: 'Nameless' });
    expect(created.data).toMatchObject({ phones: [], emails: [] });
  });

  it('points at each malformed phone and email, and shows the + form of a number without it', async () => {
    const response = await call(t.app, 'POST', '/contacts', { name: 'Ann', phones: ['+4915123456789', '49 151 23456789'], emails: ['ann@', 'ann@example.com'] });
    const phoneError = expectFieldError(response, '/phones/1', 'invalid_phone_number');
    expect(phoneError.message).toContain('+4915123456789');
    expectFieldError(response, '/emails/0', 'invalid_email');
    expect(response.data.errors).toHaveLength(2);
  });

  it('refuses a missing name, an unknown field and too many phones', async () => {
    const response = await call(t.app, 'POST', '/contacts', { nickname: 'Ann', phones: Array.from({ length: 21 }, () => newPhone()) });
    expectFieldError(response, '/name', 'required');
    expectFieldError(response, '/nickname', 'unknown_field');
    expectFieldError(response, '/phones', 'too_many_items');
  });
});

describe('GET /contacts/{id}', () => {
  it('returns the contact, or 404 contact_not_found', async () => {
    const created = await create({ name: 'Ann', phones: [newPhone()] });
    const fetched = await call(t.app, 'GET', `/contacts/${created.data.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.data).toEqual(created.data);
    expectProblem(await call(t.app, 'GET', `/contacts/${randomUUID()}`), 404, 'contact_not_found');
  });
});

describe('GET /contacts', () => {
  it('finds contacts by the normalised phone, however it is written', async () => {
    const phone = newPhone();
    const ann = await create({ name: 'Ann', phones: [phone] });
    await create({ name: 'Bob', phones: [newPhone()] });
    const found = await call(t.app, 'GET', `/contacts?phone=${encodeURIComponent(spaced(phone))}`);
    expect(found.statusCode, found.body).toBe(200);
    expect(found.data).toEqual({ items: [ann.data], nextCursor: null });
  });

  it('finds contacts by email with the domain in any case, and by phone and email together', async () => {
    const phone = newPhone();
    const both = await create({ name: 'Cleo', phones: [phone], emails: ['cleo@find.example'] });
    const emailOnly = await create({ name: 'Cleo 2', emails: ['cleo@find.example'] });
    const byEmail = await call(t.app, 'GET', `/contacts?email=${encodeURIComponent('cleo@FIND.Example')}`);
    expect(byEmail.data.items.map((c: { id: string }) => c.id)).toEqual([emailOnly.data.id, both.data.id]);
    const byBoth = await call(t.app, 'GET', `/contacts?email=cleo@find.example&phone=${encodeURIComponent(phone)}`);
    expect(byBoth.data.items.map((c: { id: string }) => c.id)).toEqual([both.data.id]);
    const none = await call(t.app, 'GET', `/contacts?email=nobody@find.example`);
    expect(none.data).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a malformed phone or email in the query on its own field', async () => {
    expectFieldError(await call(t.app, 'GET', '/contacts?phone=015123456789'), '/phone', 'invalid_phone_number');
    expectFieldError(await call(t.app, 'GET', '/contacts?email=nobody'), '/email', 'invalid_email');
  });

  it('pages newest first through every match with the cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ name: `Page ${i}`, emails: ['pager@page.example'] })).data.id);
    expect(await allPages('email=pager@page.example', 2)).toEqual([...ids].reverse());
  });

  it('pages through contacts created within the same millisecond without skipping any', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await create({ name: `Same ms ${i}`, emails: ['same@ms.example'] })).data.id);
    for (const [i, id] of ids.entries()) {
      await t.database.handle.db
        .updateTable('contacts')
        .set({ created_at: sql`'2030-01-01T00:00:00.500Z'::timestamptz + ${i} * interval '1 microsecond'` })
        .where('id', '=', id)
        .execute();
    }
    expect(await allPages('email=same@ms.example', 1)).toEqual([...ids].reverse());
  });

  it('refuses a cursor it did not issue and a limit out of range', async () => {
    expectFieldError(await call(t.app, 'GET', '/contacts?cursor=bm9wZQ'), '/cursor', 'invalid_cursor');
    expectFieldError(await call(t.app, 'GET', '/contacts?limit=500'), '/limit', 'out_of_range');
  });
});

describe('PATCH /contacts/{id}', () => {
  it('replaces the given fields, normalised, and keeps the others', async () => {
    const created = await create({ name: 'Ann', phones: [newPhone()], emails: ['ann@patch.example'] });
    const phone = newPhone();
    const patched = await call(t.app, 'PATCH', `/contacts/${created.data.id}`, { phones: [spaced(phone)] });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.data).toMatchObject({ id: created.data.id, name: 'Ann', phones: [phone], emails: ['ann@patch.example'] });
    expect(Date.parse(patched.data.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.data.updatedAt));
    const renamed = await call(t.app, 'PATCH', `/contacts/${created.data.id}`, { name: 'Ann B.', emails: [] });
    expect(renamed.data).toMatchObject({ name: 'Ann B.', phones: [phone], emails: [] });
    expect((await call(t.app, 'GET', `/contacts/${created.data.id}`)).data).toEqual(renamed.data);
  });

  it('refuses an empty patch, a malformed phone and an unknown contact', async () => {
    const created = await create({ name: 'Ann' });
    expectProblem(await call(t.app, 'PATCH', `/contacts/${created.data.id}`, {}), 400, 'validation_failed');
    expectFieldError(await call(t.app, 'PATCH', `/contacts/${created.data.id}`, { phones: ['+49'] }), '/phones/0', 'invalid_phone_number');
    expectProblem(await call(t.app, 'PATCH', `/contacts/${randomUUID()}`, { name: 'Ghost' }), 404, 'contact_not_found');
  });
});
