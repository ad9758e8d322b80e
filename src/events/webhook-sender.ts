import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { type Resolve, type WebhookUrlPolicy, guardedLookup, hostOf, isPublicAddress, resolveAll } from './webhook-address.js';

/** One Standard Webhooks request: the event's id, the attempt's time (Unix seconds), its body, the secrets that sign it. */
export interface WebhookMessage {
  url: string;
  id: string;
  timestamp: number;
  body: string;
  signature: string;
}

/** How an attempt ended: a 2xx delivers; anything else is worth another try. */
export type WebhookOutcome = { delivered: true; statusCode: number } | { delivered: false; statusCode: number | null; error: string };

/**
 * POSTs webhooks. Every connection goes only to an address checked to be public (see
 * guardedLookup; an IP literal is checked here, since sockets skip the lookup for those),
 * redirects are not followed, and an attempt has `timeoutMs` in all, answer included.
 */
export class WebhookSender {
  readonly #agent: Agent;
  /** Attempts in flight, for cancelAll (one controller each: AbortSignal.timeout and .any cost more than the request itself). */
  readonly #inFlight = new Set<AbortController>();

  constructor(
    private readonly policy: WebhookUrlPolicy,
    private readonly timeoutMs: number,
    resolve: Resolve = resolveAll,
  ) {
    this.#agent = new Agent({
      connect: { lookup: guardedLookup(policy, resolve), timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  /** Sends one attempt; never throws. cancelAll() cancels it (shutdown). */
  async send(message: WebhookMessage): Promise<WebhookOutcome> {
    const url = new URL(message.url);
    const host = hostOf(url);
    if (!this.policy.allowPrivate && isIP(host) && !isPublicAddress(host)) {
      return { delivered: false, statusCode: null, error: `${host} is not a public address; not connected.` };
    }
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    this.#inFlight.add(controller);
    try {
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.#agent,
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'session-initiation-service-webhooks',
          'webhook-id': message.id,
          'webhook-timestamp': String(message.timestamp),
          'webhook-signature': message.signature,
        },
        body: message.body,
      });
      // The answer's body says nothing the service uses; read it so the connection can be reused.
      await response.body.dump();
      const { statusCode } = response;
      if (statusCode >= 200 && statusCode < 300) return { delivered: true, statusCode };
      return { delivered: false, statusCode, error: statusCode >= 300 && statusCode < 400 ? `HTTP ${statusCode} (redirects are not followed)` : `HTTP ${statusCode}` };
    } catch (error) {
      return { delivered: false, statusCode: null, error: describe(error, timedOut, this.timeoutMs) };
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  /** Cancels every attempt in flight (shutdown): each ends undelivered. */
  cancelAll(): void {
    for (const controller of this.#inFlight) controller.abort();
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => {});
  }
}

function describe(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `No answer within ${timeoutMs} ms.`;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}
