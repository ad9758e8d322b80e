import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebhookMessage, WebhookSender } from '../../src/events/webhook-sender.js';
import { HttpStandIn } from '../support/http-stand-in.js';

const message = (url: string): WebhookMessage => ({ url, id: `msg_${randomUUID()}`, timestamp: 1_700_000_000, body: '{"id":"e","data":{"ü":"€"}}', signature: 'v1,c2lnbmF0dXJl' });

describe('the webhook sender', () => {
  let receiver: HttpStandIn;
  let sender: WebhookSender;

  beforeAll(async () => {
    receiver = await HttpStandIn.start(() => ({ status: 200, body: { ok: true } }));
    sender = new WebhookSender({ allowHttp: true, allowPrivate: true }, 300);
  });
  afterAll(async () => {
    await sender.close();
    await receiver.close();
  });

  it('POSTs the body with the Standard Webhooks headers to the URL’s path and query, and reads past each answer’s body', async () => {
    const sent = [message(`${receiver.url}/hooks?tenant=7`), message(`${receiver.url}/hooks?tenant=7`), message(`${receiver.url}/other`)];
    receiver.replyNext(() => ({ status: 204, body: null }));
    expect(await sender.send(sent[0]!)).toEqual({ delivered: true, statusCode: 204 });
    expect(await Promise.all(sent.slice(1).map((m) => sender.send(m)))).toEqual([
      { delivered: true, statusCode: 200 },
      { delivered: true, statusCode: 200 },
    ]);
    const received = receiver.requests.slice(-3);
    expect(received.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/hooks?tenant=7'],
      ['POST', '/hooks?tenant=7'],
      ['POST', '/other'],
    ]);
    expect(received[0]!.rawBody).toBe(sent[0]!.body);
    expect(received[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': sent[0]!.id,
      'webhook-timestamp': '1700000000',
      'webhook-signature': 'v1,c2lnbmF0dXJl',
    });
  });

  it('ends undelivered on an error status, a cut connection or no answer in time', async () => {
    receiver.replyNext(() => ({ status: 503, body: { busy: true } }));
    expect(await sender.send(message(`${receiver.url}/hooks`))).toEqual({ delivered: false, statusCode: 503, error: 'HTTP 503' });
    receiver.replyNext(() => ({ destroy: true }));
    expect(await sender.send(message(`${receiver.url}/hooks`))).toMatchObject({ delivered: false, statusCode: null, error: expect.any(String) });
    receiver.replyNext(() => ({ hang: true }));
    expect(await sender.send(message(`${receiver.url}/hooks`))).toEqual({ delivered: false, statusCode: null, error: 'No answer within 300 ms.' });
    // The connection is usable afterwards.
    expect(await sender.send(message(`${receiver.url}/hooks`))).toEqual({ delivered: true, statusCode: 200 });
  });

  it('answers a URL it cannot send to without connecting or throwing', async () => {
    const strict = new WebhookSender({ allowHttp: true, allowPrivate: false }, 300);
    try {
      const before = receiver.requests.length;
      expect(await strict.send(message(`${receiver.url}/hooks`))).toEqual({ delivered: false, statusCode: null, error: '127.0.0.1 is not a public address; not connected.' });
      expect(await strict.send(message('not a url'))).toEqual({ delivered: false, statusCode: null, error: 'not a url is not a URL.' });
      expect(receiver.requests.length).toBe(before);
    } finally {
      await strict.close();
    }
  });
});
