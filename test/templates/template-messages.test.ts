import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestApp, call, createTestApp } from '../support/app.js';
import { liveChatWithOperator, newPhone, personWrote } from '../support/fixtures.js';
import { type HttpStandIn, waitUntil } from '../support/http-stand-in.js';
import { expectFieldError, expectProblem } from '../support/problems.js';
import { graphTemplate, startWhatsAppStandIn, whatsAppError } from '../support/whatsapp-stand-in.js';

const WABA = '102290129340398';
const UNSYNCED_WABA = '102290129340399';
const catalogue = [
  graphTemplate('order_update', {
    body: 'Hi {{1}}, order {{2}} ships today',
    header: { format: 'IMAGE' },
    buttons: [
      { type: 'URL', text: 'Track', url: 'https://shop.example/t/{{1}}' },
      { type: 'QUICK_REPLY', text: 'Thanks' },
    ],
  }),
  graphTemplate('invoice', { body: 'Your invoice {{1}}', header: { format: 'DOCUMENT' }, buttons: [{ type: 'COPY_CODE', example: 'SAVE10' }] }),
  graphTemplate('greeting', { body: 'Hello {{1}}', header: { format: 'TEXT', text: 'Dear {{1}}' } }),
  graphTemplate('product_tour', { body: 'Hi {{1}}, here is how it works', header: { format: 'VIDEO' } }),
  graphTemplate('promo', { status: 'PENDING' }),
  graphTemplate('welcome', { body: 'Welcome!', language: 'de' }),
];

const ORDER_UPDATE = {
  name: 'order_update',
  language: 'en_US',
  parameters: ['Asha', '4711'],
  header: { type: 'image', link: 'https://cdn.shop.example/parcel.jpg' },
  buttons: [{ index: 0, subType: 'url', parameter: '4711' }],
};

describe('template messages', () => {
  let t: TestApp;
  let whatsapp: HttpStandIn;
  let synced: { liveChatId: string; operatorId: string };
  let unsynced: { liveChatId: string; operatorId: string };

  beforeAll(async () => {
    whatsapp = await startWhatsAppStandIn({ catalogues: new Map([[WABA, [catalogue]]]) });
    t = await createTestApp({
      config: {
        dispatcherEnabled: true,
        whatsappApiBaseUrl: whatsapp.url,
        delivery: { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 100, providerTimeoutMs: 5_000 },
      },
    });
    synced = await liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: WABA });
    expect((await call(t.app, 'POST', `/live-chats/${synced.liveChatId}/templates/sync`)).data).toEqual({ synced: 6 });
    unsynced = await liveChatWithOperator(t.app, 'whatsapp', { businessAccountId: UNSYNCED_WABA, phoneNumberId: '106540352242923' });
  });
  afterAll(async () => {
    await t.close();
    await whatsapp.close();
  });
  beforeEach(async () => {
    // Messages of the test before are sent first: none takes a reply a test programs.
    for (const chat of [synced, unsynced]) {
      await waitUntil(async () => (await call(t.app, 'GET', `/live-chats/${chat.liveChatId}`)).data.queuedMessages === 0, { what: 'the outbox to empty' });
    }
    whatsapp.reset();
  });

  const initiate = (chat: { liveChatId: string; operatorId: string }, template: object, phone = newPhone()) =>
    call(t.app, 'POST', '/sessions', { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: 'Asha', phones: [phone] }, message: { template } });

  /** The body the stand-in received for the session's first message. */
  async function sentBody(phone: string) {
    const request = await waitUntil(() => whatsapp.requests.find((r) => r.method === 'POST' && r.body?.to === phone.slice(1)), { what: 'the message to reach WhatsApp' });
    return request.body;
  }

  it('sends an approved template with an image header and a URL button as the Cloud API’s components', async () => {
    const phone = newPhone();
    expect((await initiate(synced, ORDER_UPDATE, phone)).statusCode).toBe(201);
    expect(await sentBody(phone)).toEqual({
      messaging_product: 'whatsapp',
      to: phone.slice(1),
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_US' },
        components: [
          { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.shop.example/parcel.jpg' } }] },
          { type: 'body', parameters: [{ type: 'text', text: 'Asha' }, { type: 'text', text: '4711' }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: '4711' }] },
        ],
      },
    });
  });

  it('sends a document header with its file name, a copy code, a text header and a quick reply payload', async () => {
    const [a, b, c] = [newPhone(), newPhone(), newPhone()];
    const invoice = { name: 'invoice', language: 'en_US', parameters: ['INV-9'], header: { type: 'document', link: 'https://cdn.shop.example/inv-9.pdf', filename: 'INV-9.pdf' }, buttons: [{ index: 0, subType: 'copy_code', parameter: 'SAVE10' }] };
    expect((await initiate(synced, invoice, a)).statusCode).toBe(201);
    expect((await initiate(synced, { name: 'greeting', language: 'en_US', parameters: ['Ann'], header: { type: 'text', text: 'Ann' } }, b)).statusCode).toBe(201);
    expect((await initiate(synced, { ...ORDER_UPDATE, buttons: [...ORDER_UPDATE.buttons, { index: 1, subType: 'quick_reply', parameter: 'thanks-4711' }] }, c)).statusCode).toBe(201);
    expect((await sentBody(a)).template.components).toEqual([
      { type: 'header', parameters: [{ type: 'document', document: { link: 'https://cdn.shop.example/inv-9.pdf', filename: 'INV-9.pdf' } }] },
      { type: 'body', parameters: [{ type: 'text', text: 'INV-9' }] },
      { type: 'button', sub_type: 'copy_code', index: '0', parameters: [{ type: 'coupon_code', coupon_code: 'SAVE10' }] },
    ]);
    expect((await sentBody(b)).template.components[0]).toEqual({ type: 'header', parameters: [{ type: 'text', text: 'Ann' }] });
    expect((await sentBody(c)).template.components.at(-1)).toEqual({ type: 'button', sub_type: 'quick_reply', index: '1', parameters: [{ type: 'payload', payload: 'thanks-4711' }] });
  });

  it('sends a video header as the Cloud API’s video component, and only a video to a video template', async () => {
    const phone = newPhone();
    const tour = { name: 'product_tour', language: 'en_US', parameters: ['Asha'], header: { type: 'video', link: 'https://cdn.shop.example/tour.mp4' } };
    expect((await initiate(synced, tour, phone)).statusCode).toBe(201);
    expect((await sentBody(phone)).template).toEqual({
      name: 'product_tour',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'video', video: { link: 'https://cdn.shop.example/tour.mp4' } }] },
        { type: 'body', parameters: [{ type: 'text', text: 'Asha' }] },
      ],
    });
    expectProblem(await initiate(synced, { ...tour, header: { type: 'image', link: 'https://cdn.shop.example/tour.jpg' } }), 422, 'template_parameters_mismatch');
    expectFieldError(await initiate(synced, { ...tour, header: { ...tour.header, filename: 'tour.mp4' } }), '/message/template/header/filename', 'not_allowed');
  });

  it.each([
    ['a name the catalogue lacks', { name: 'order_updates', language: 'en_US' }, 'template_not_found', 'The live chat’s WhatsApp catalogue has no template order_updates (en_US).'],
    ['a language the template lacks', { name: 'welcome', language: 'en_US' }, 'template_not_found', 'The live chat’s WhatsApp catalogue has no template welcome (en_US).'],
    ['a template still pending', { name: 'promo', language: 'en_US' }, 'template_not_approved', 'Template promo (en_US) is PENDING; only APPROVED templates can be sent.'],
    [
      'too few body parameters',
      { ...ORDER_UPDATE, parameters: ['Asha'] },
      'template_parameters_mismatch',
      'Template order_update (en_US) takes 2 body parameters, an image header, a parameter for its URL button 0 and optionally a payload for its QUICK_REPLY button 1; the message gives 1 body parameter, an image header and buttons 0 (url).',
    ],
    ['no header where the template has a media one', { ...ORDER_UPDATE, header: undefined }, 'template_parameters_mismatch', undefined],
    ['a header of another kind', { ...ORDER_UPDATE, header: { type: 'video', link: 'https://cdn.shop.example/a.mp4' } }, 'template_parameters_mismatch', undefined],
    ['no parameter for a URL button that needs one', { ...ORDER_UPDATE, buttons: [] }, 'template_parameters_mismatch', undefined],
    ['a button the template does not have', { ...ORDER_UPDATE, buttons: [...ORDER_UPDATE.buttons, { index: 2, subType: 'url', parameter: 'x' }] }, 'template_parameters_mismatch', undefined],
    ['a button of another type', { ...ORDER_UPDATE, buttons: [{ index: 0, subType: 'copy_code', parameter: '4711' }] }, 'template_parameters_mismatch', undefined],
    ['a header the template does not take', { name: 'welcome', language: 'de', header: { type: 'text', text: 'x' } }, 'template_parameters_mismatch', undefined],
  ])('refuses %s once the catalogue is synced', async (_what, template, code, detail) => {
    const refused = expectProblem(await initiate(synced, template), 422, code);
    if (detail) expect(refused.detail).toBe(detail);
  });

  it('checks templates on reopen and on later messages too', async () => {
    const phone = newPhone();
    const created = await initiate(synced, ORDER_UPDATE, phone);
    const sessionId = created.data.id as string;
    expectProblem(await call(t.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId: synced.operatorId, template: { name: 'promo', language: 'en_US' } }), 422, 'template_not_approved');
    expect((await call(t.app, 'POST', `/sessions/${sessionId}/messages`, { operatorId: synced.operatorId, template: { name: 'welcome', language: 'de' } })).statusCode).toBe(202);
    await call(t.app, 'POST', `/sessions/${sessionId}/close`, {});
    const reopened = await call(t.app, 'POST', `/sessions/${sessionId}/reopen`, { operatorId: synced.operatorId, message: { template: { name: 'nope', language: 'de' } } });
    expectProblem(reopened, 422, 'template_not_found');
  });

  it('checks nothing against a catalogue never synced', async () => {
    expect((await initiate(unsynced, { name: 'anything_at_all', language: 'fr', parameters: ['a', 'b', 'c'] })).statusCode).toBe(201);
    expect((await initiate(unsynced, { ...ORDER_UPDATE, header: undefined, buttons: [{ index: 7, subType: 'url', parameter: 'x' }] })).statusCode).toBe(201);
  });

  it('refuses a malformed header or a button given twice before anything else', async () => {
    expectFieldError(await initiate(synced, { ...ORDER_UPDATE, header: { type: 'image' } }), '/message/template/header/link', 'required');
    expectFieldError(await initiate(synced, { ...ORDER_UPDATE, header: { type: 'text', text: 'x', link: 'https://a.example/x' } }), '/message/template/header/link', 'not_allowed');
    expectFieldError(await initiate(synced, { ...ORDER_UPDATE, header: { type: 'image', link: 'https://a.example/x', filename: 'x.jpg' } }), '/message/template/header/filename', 'not_allowed');
    expectFieldError(await initiate(synced, { ...ORDER_UPDATE, buttons: [ORDER_UPDATE.buttons[0], ORDER_UPDATE.buttons[0]] }), '/message/template/buttons/1/index', 'duplicate');
    expectProblem(await initiate(synced, { ...ORDER_UPDATE, header: { type: 'image', link: 'http://insecure.example/x.jpg' } }), 400, 'validation_failed');
  });

  it.each([
    [132000, 'Number of parameters does not match the expected number of params'],
    [132001, 'Template name does not exist in the translation'],
    [132015, 'Template is paused'],
    [132016, 'Template has been disabled'],
  ])('fails a message at once on WhatsApp error %i, keeping the code', async (code, message) => {
    whatsapp.replyNext(whatsAppError(code, message));
    const phone = newPhone();
    await personWrote(t.database.handle.db, unsynced.liveChatId, { externalUserId: phone.slice(1), phone }, new Date());
    const created = await initiate(unsynced, { name: 'order_update', language: 'en_US' }, phone);
    const failed = await waitUntil(
      async () => {
        const items = (await call(t.app, 'GET', `/sessions/${created.data.id}/messages`)).data.items;
        return items[0]?.status === 'failed' ? items[0] : undefined;
      },
      { what: 'the message to fail' },
    );
    expect(failed).toMatchObject({ attempts: 1, error: { code: `whatsapp_${code}`, message: expect.stringContaining(message) } });
  });
});
