import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as the stand-in received it, body parsed when it was JSON. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: any;
  /** Date.now() when the request arrived. */
  receivedAt: number;
}

/** What the stand-in answers: a JSON reply, no answer at all (a hung provider), or a cut connection. */
export type StandInReply = { status: number; body: unknown } | { hang: true } | { destroy: true };

export type StandInHandler = (request: RecordedRequest) => StandInReply | Promise<StandInReply>;

/**
 * A real HTTP server on 127.0.0.1 (port 0) that records every request and answers with the
 * default handler, unless a test queued one-off replies (`replyNext`) or swapped the handler.
 */
export class HttpStandIn {
  readonly requests: RecordedRequest[] = [];
  #handler: StandInHandler;
  readonly #queued: StandInHandler[] = [];
  readonly #hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly defaultHandler: StandInHandler,
  ) {
    this.#handler = defaultHandler;
  }

  static async start(defaultHandler: StandInHandler): Promise<HttpStandIn> {
    const ready: { standIn?: HttpStandIn } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => void ready.standIn!.#answer(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    ready.standIn = new HttpStandIn(server, `http://127.0.0.1:${port}`, defaultHandler);
    return ready.standIn;
  }

  /** Answers the next request(s) with these, in order, then goes back to the handler. */
  replyNext(...replies: (StandInReply | StandInHandler)[]): void {
    this.#queued.push(...replies.map((r) => (typeof r === 'function' ? r : () => r)));
  }

  /** Answers every later request with `handler` (until reset). */
  setHandler(handler: StandInHandler): void {
    this.#handler = handler;
  }

  /** Back to the default handler, no queued replies, no recorded requests. */
  reset(): void {
    this.#handler = this.defaultHandler;
    this.#queued.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #answer(method: string, path: string, headers: IncomingHttpHeaders, rawBody: string, res: ServerResponse): Promise<void> {
    let body: unknown = null;
    try {
      body = JSON.parse(rawBody);
    } catch {
      // Not JSON: kept as rawBody only.
    }
    const request: RecordedRequest = { method, path, headers, rawBody, body, receivedAt: Date.now() };
    this.requests.push(request);
    const handler = this.#queued.shift() ?? this.#handler;
    const reply = await handler(request);
    if ('hang' in reply) {
      this.#hanging.add(res);
      res.on('close', () => this.#hanging.delete(res));
      return;
    }
    if ('destroy' in reply) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply.body));
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? 'a condition'}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A local port with nothing listening on it (for "connection refused"). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
