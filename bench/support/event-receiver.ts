import { createServer, type AddressInfo, type Socket } from 'node:net';
import { wallClockMs } from './stats.js';

export interface EventReceiver {
  url: string;
  /**
   * What arrived since the last call: how many distinct events (by `webhook-id`), and each
   * one's lag, its arrival minus its `occurredAt`, in ms.
   */
  take(): { events: number; lags: number[] };
  close(): Promise<void>;
}

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
const OK_BYTES = Buffer.from(OK, 'latin1');
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
const OCCURRED_AT = '"occurredAt":"';

/**
 * An event subscription's receiver: answers every webhook 200 at once, and notes when each
 * event arrived against the `occurredAt` it carries. Like the provider stand-in it does as
 * little as it can (a real receiver costs this machine nothing); it does not verify signatures
 * (the tests do). So it is no `node:http` server but a bare HTTP/1.1 reader on `node:net`: the
 * webhook sender (undici) sends keep-alive requests with a `content-length` body, which is all
 * it understands (anything else, chunked or without a length, is answered 400 and closed). Each
 * socket's bytes are read as latin1 text, one character a byte, so the header block and body
 * are cut out by `content-length` (which counts bytes) with plain string searches; the answers
 * to every request a chunk completes go out in one write.
 */
export async function startEventReceiver(): Promise<EventReceiver> {
  let seen = new Set<string>();
  let lags: number[] = [];
  const sockets = new Set<Socket>();

  /** Notes one complete request's event: its `webhook-id` and the body's `occurredAt`. */
  const arrived = (id: string | undefined, data: string, bodyStart: number, bodyEnd: number): void => {
    if (id === undefined || seen.has(id)) return;
    const at = wallClockMs();
    seen.add(id);
    const occurredAt = occurredAtIn(data, bodyStart, bodyEnd);
    if (occurredAt) lags.push(at - Date.parse(occurredAt));
  };

  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    /** Bytes (latin1) of a request not complete yet, and how many it needs at least before reading again. */
    let pending = '';
    let wanted = 0;
    let closed = false;
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      const data = pending === '' ? chunk.toString('latin1') : pending + chunk.toString('latin1');
      if (data.length < wanted) {
        pending = data;
        return;
      }
      let offset = 0;
      let answers = 0;
      wanted = 0;
      while (offset < data.length) {
        const headEnd = data.indexOf('\r\n\r\n', offset);
        if (headEnd === -1) break;
        const head = data.slice(offset, headEnd);
        const lower = head.toLowerCase();
        const length = headerIn(head, lower, '\r\ncontent-length:');
        if (length === undefined || !/^\d+$/.test(length) || lower.includes('\r\ntransfer-encoding:')) {
          closed = true;
          pending = '';
          socket.end(OK.repeat(answers) + BAD_REQUEST, 'latin1');
          return;
        }
        const bodyStart = headEnd + 4;
        const bodyEnd = bodyStart + Number(length);
        if (bodyEnd > data.length) {
          wanted = bodyEnd - offset;
          break;
        }
        arrived(headerIn(head, lower, '\r\nwebhook-id:'), data, bodyStart, bodyEnd);
        answers += 1;
        offset = bodyEnd;
      }
      pending = offset === data.length ? '' : offset === 0 ? data : data.slice(offset);
      if (answers === 1) socket.write(OK_BYTES);
      else if (answers > 1) socket.write(OK.repeat(answers), 'latin1');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    take: () => {
      const taken = { events: seen.size, lags };
      seen = new Set();
      lags = [];
      return taken;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A header's value, trimmed, by its name as `\r\nname:` in lower case; `lower` is `head` in lower case. */
function headerIn(head: string, lower: string, name: string): string | undefined {
  const at = lower.indexOf(name);
  if (at === -1) return undefined;
  const end = lower.indexOf('\r\n', at + name.length);
  return head.slice(at + name.length, end === -1 ? head.length : end).trim();
}

/** The first non-empty `"occurredAt":"…"` value in the body `data[bodyStart, bodyEnd)`, as `/"occurredAt":"([^"]+)"/` finds it. */
function occurredAtIn(data: string, bodyStart: number, bodyEnd: number): string | undefined {
  for (let at = data.indexOf(OCCURRED_AT, bodyStart); at !== -1 && at + OCCURRED_AT.length < bodyEnd; at = data.indexOf(OCCURRED_AT, at + 1)) {
    const start = at + OCCURRED_AT.length;
    const end = data.indexOf('"', start);
    if (end === -1 || end >= bodyEnd) return undefined;
    if (end > start) return data.slice(start, end);
  }
  return undefined;
}
