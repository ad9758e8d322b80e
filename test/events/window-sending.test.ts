import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogWindow } from '../../src/events/log-windows.js';
import type { WebhookAttempts } from '../../src/events/webhook-attempts.js';
import { WebhookSender } from '../../src/events/webhook-sender.js';
import { sendWindow } from '../../src/events/window-sender.js';
import { HttpStandIn, waitUntil } from '../support/http-stand-in.js';

/** A window of `count` events to nowhere: its attempts are made by the test's own `make`. */
function aWindow(count: number, slots: number): LogWindow {
  const events = Array.from({ length: count }, () => ({ id: randomUUID(), liveChatId: randomUUID(), body: '{}' }));
  return { subscriptionId: randomUUID(), url: 'https://hooks.example.com', sealedSecrets: '', previousSecretExpiresAt: null, leaseUntil: new Date(), slots, end: { xid: '1', position: 1 }, full: false, events };
}

/** Attempts that each take `ms` and deliver, counting how many were made and how many at most at once. */
function slowAttempts(ms: number): { attempts: WebhookAttempts; made: () => number; mostAtOnce: () => number } {
  let made = 0;
  let open = 0;
  let most = 0;
  const attempts = {
    make: async () => {
      made += 1;
      most = Math.max(most, ++open);
      await new Promise((resolve) => setTimeout(resolve, ms));
      open -= 1;
      return { status: 'delivered', statusCode: 200 } as const;
    },
  } as unknown as WebhookAttempts;
  return { attempts, made: () => made, mostAtOnce: () => most };
}

describe('sending a window', () => {
  it('starts no attempt after its deadline: the rest is left untried', async () => {
    const window = aWindow(4, 1);
    const { attempts, made } = slowAttempts(400);
    const outcomes = await sendWindow(window, attempts, { deadline: Date.now() + 200, stopping: () => false });
    expect(made()).toBe(1);
    expect(outcomes.map((o) => o.result)).toEqual([{ status: 'delivered', statusCode: 200 }, 'untried', 'untried', 'untried']);
    expect(outcomes.map((o) => o.event.id)).toEqual(window.events.map((e) => e.id));
  });

  it('starts none once stopping, and never more at once than its slots', async () => {
    const window = aWindow(6, 2);
    const { attempts, made, mostAtOnce } = slowAttempts(20);
    // Stopping once three attempts were made: each lane looks before its next one.
    const outcomes = await sendWindow(window, attempts, { deadline: Date.now() + 60_000, stopping: () => made() >= 3 });
    expect(made()).toBe(3);
    expect(mostAtOnce()).toBe(2);
    expect(outcomes.filter((o) => o.result === 'untried')).toHaveLength(3);
  });
});

describe('cancelling webhooks in flight', () => {
  let receiver: HttpStandIn;

  beforeAll(async () => {
    receiver = await HttpStandIn.start(() => ({ hang: true }));
  });
  afterAll(() => receiver.close());

  it('ends an attempt at once, undelivered and not as a timeout', async () => {
    const sender = new WebhookSender({ allowHttp: true, allowPrivate: true }, 60_000);
    try {
      const sending = sender.send({ url: `${receiver.url}/hooks`, id: randomUUID(), timestamp: 1, body: '{}', signature: 'v1,x' });
      await waitUntil(() => receiver.requests.length === 1 || undefined);
      sender.cancelAll();
      const outcome = await sending;
      expect(outcome.delivered).toBe(false);
      expect(outcome).not.toMatchObject({ error: expect.stringContaining('No answer within') });
    } finally {
      await sender.close();
    }
  });
});
