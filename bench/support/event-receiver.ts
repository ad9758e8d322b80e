import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/**
 * An event subscription's receiver: answers every webhook 200 at once, and notes when each
 * event arrived against the `occurredAt` it carries. Like the provider stand-in it does as
 * little as it can; it does not verify signatures (the tests do).
 */
export async function startEventReceiver(): Promise<EventReceiver> {
  let seen = new Set<string>();
  let lags: number[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const at = wallClockMs();
      const id = req.headers['webhook-id'];
      if (typeof id === 'string' && !seen.has(id)) {
        seen.add(id);
        const occurredAt = /"occurredAt":"([^"]+)"/.exec(body)?.[1];
        if (occurredAt) lags.push(at - Date.parse(occurredAt));
      }
      res.writeHead(200, { 'content-length': 0 });
      res.end();
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
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
