import { Worker } from 'node:worker_threads';

/** A request as the timed stand-in received it. */
export interface TimedRequest {
  path: string;
  body: any;
  /** Date.now() in the stand-in's own thread when the request's body had arrived. */
  receivedAt: number;
}

// The server runs in a worker thread with an event loop of its own: arrival times are taken as
// requests come in, even while the test's main thread is busy (embedded PGlite runs queries on
// it, and would hold back an in-thread stand-in's clock-reading along with everything else).
const WORKER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const requests = [];
let counter = 0;
const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    const receivedAt = Date.now();
    let body = null;
    try { body = JSON.parse(raw); } catch {}
    requests.push({ path: req.url, body, receivedAt });
    counter += 1;
    const telegram = /^\\/bot[^/]+\\/sendMessage$/.test(req.url);
    const answer = telegram
      ? { ok: true, result: { message_id: counter, chat: { id: body && body.chat_id, type: 'private' }, date: Math.floor(receivedAt / 1000), text: body && body.text } }
      : { messaging_product: 'whatsapp', contacts: [{ input: String(body && body.to), wa_id: String(body && body.to) }], messages: [{ id: 'wamid.TIMED' + counter }] };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message === 'requests') parentPort.postMessage({ requests });
  if (message === 'reset') requests.length = 0;
  if (message === 'close') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ closed: true })); }
});
`;

/**
 * A WhatsApp Cloud API and Telegram Bot API send endpoint that accepts every message and
 * records when each arrived, in a thread of its own (see above): for tests of timing.
 */
export class TimedStandIn {
  private constructor(
    private readonly worker: Worker,
    readonly url: string,
  ) {}

  static async start(): Promise<TimedStandIn> {
    const worker = new Worker(WORKER, { eval: true });
    const { port } = await TimedStandIn.#next<{ port: number }>(worker, 'port');
    return new TimedStandIn(worker, `http://127.0.0.1:${port}`);
  }

  /** Every request so far, in order of arrival. */
  async requests(): Promise<TimedRequest[]> {
    const answer = TimedStandIn.#next<{ requests: TimedRequest[] }>(this.worker, 'requests');
    this.worker.postMessage('requests');
    return (await answer).requests;
  }

  reset(): void {
    this.worker.postMessage('reset');
  }

  async close(): Promise<void> {
    const closed = TimedStandIn.#next(this.worker, 'closed');
    this.worker.postMessage('close');
    await closed;
    await this.worker.terminate();
  }

  static #next<T>(worker: Worker, key: string): Promise<T> {
    return new Promise((resolve) => {
      const listener = (message: Record<string, unknown>) => {
        if (!(key in message)) return;
        worker.off('message', listener);
        resolve(message as T);
      };
      worker.on('message', listener);
    });
  }
}
