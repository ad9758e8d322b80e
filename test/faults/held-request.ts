import net from 'node:net';
import { SERVICE_ADMIN_KEY } from './http-client.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  data: any;
}

/**
 * An HTTP/1.1 request sent over a raw socket in two parts: `start()` sends all but the tail, so
 * the server holds a request in progress (the connection is busy, not idle), and `finish()`
 * sends the rest and reads the answer up to the end of the connection. This is how a test
 * keeps a request in flight across a SIGTERM.
 */
export class HeldRequest {
  #socket: net.Socket | null = null;
  #received = '';
  #closed: Promise<void> | null = null;

  private constructor(
    private readonly head: string,
    private readonly tail: string,
  ) {}

  /** A request whose body is held back in part (the request has started; its handler has not). */
  static withBody(method: string, path: string, body: unknown): HeldRequest {
    const payload = JSON.stringify(body);
    const head =
      `${method} ${path} HTTP/1.1\r\nHost: service\r\nAuthorization: Bearer ${SERVICE_ADMIN_KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n`;
    const cut = Math.floor(payload.length / 2);
    return new HeldRequest(head + payload.slice(0, cut), payload.slice(cut));
  }

  /** A request whose header block is not finished yet: it is routed only once `finish()` ends it. */
  static withUnfinishedHead(method: string, path: string): HeldRequest {
    return new HeldRequest(`${method} ${path} HTTP/1.1\r\nHost: service\r\n`, '\r\n');
  }

  /** Connects and sends the first part. */
  async start(port: number): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => (this.#received += chunk.toString('utf8')));
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    await new Promise<void>((resolve) => socket.write(this.head, () => resolve()));
  }

  /** Sends the rest; resolves with the response once the server has closed the connection (or after `timeoutMs`). */
  async finish(timeoutMs = 30_000): Promise<RawResponse> {
    const socket = this.#socket;
    if (!socket) throw new Error('not started');
    socket.write(this.tail);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#closed, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    socket.destroy();
    return parseResponse(this.#received);
  }

  destroy(): void {
    this.#socket?.destroy();
  }
}

function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no HTTP response received: ${JSON.stringify(text)}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  const rest = Buffer.from(text.slice(end + 4), 'utf8');
  const body = (length === undefined ? rest : rest.subarray(0, length)).toString('utf8');
  let data: unknown = body;
  if (/json/.test(headers['content-type'] ?? '')) data = JSON.parse(body);
  return { status: Number(statusLine!.split(' ')[1]), headers, body, data };
}
