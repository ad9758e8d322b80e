import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wallClockMs } from './stats.js';

export const BUSINESS_ACCOUNT_ID = '102290129340398';

/** The bench's template catalogue, as the Graph API lists it: order_update takes one body parameter. */
const CATALOGUE = JSON.stringify({
  data: [
    { name: 'order_update', language: 'en_US', status: 'APPROVED', category: 'UTILITY', id: '1', components: [{ type: 'BODY', text: 'Hi {{1}}, your order ships today' }] },
    { name: 'welcome', language: 'en_US', status: 'APPROVED', category: 'MARKETING', id: '2', components: [{ type: 'BODY', text: 'Welcome!' }] },
  ],
  paging: { cursors: { before: 'MAZDZD', after: 'MjQZD' } },
});

export interface ProviderStandIn {
  url: string;
  /** When each recipient's (digits of the phone) message arrived, wall clock in ms. */
  arrivals: Map<string, number>;
  /** Messages received so far. */
  count(): number;
  /** The most messages one phone number id received in one second of the stand-in's clock, since `sinceMs`. */
  busiestSecond(phoneNumberId: string, sinceMs?: number): number;
  close(): Promise<void>;
}

/**
 * A WhatsApp Cloud API stand-in that records when each recipient's message arrived, per sending
 * number and second. It does as little as it can (a real provider costs this machine nothing):
 * the recipient is read with a regular expression and the answer is built as a string. It also
 * lists the template catalogue (`GET /{businessAccountId}/message_templates`).
 */
export async function startProviderStandIn(): Promise<ProviderStandIn> {
  const arrivals = new Map<string, number>();
  /** Per phone number id: sends per whole second of the wall clock. */
  const perSecond = new Map<string, Map<number, number>>();
  let count = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith(`/${BUSINESS_ACCOUNT_ID}/message_templates`)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(CATALOGUE);
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const at = wallClockMs();
      const to = /"to":"(\d+)"/.exec(body)?.[1] ?? '';
      arrivals.set(to, at);
      const sender = req.url?.split('/')[1] ?? '';
      let seconds = perSecond.get(sender);
      if (!seconds) perSecond.set(sender, (seconds = new Map()));
      const second = Math.floor(at / 1000);
      seconds.set(second, (seconds.get(second) ?? 0) + 1);
      count += 1;
      const answer = `{"messaging_product":"whatsapp","contacts":[{"input":"${to}","wa_id":"${to}"}],"messages":[{"id":"wamid.bench${count}"}]}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    count: () => count,
    busiestSecond: (phoneNumberId, sinceMs = 0) => {
      let busiest = 0;
      for (const [second, n] of perSecond.get(phoneNumberId) ?? []) if (second * 1000 >= sinceMs - 999 && n > busiest) busiest = n;
      return busiest;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
