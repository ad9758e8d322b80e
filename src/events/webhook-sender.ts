import { isIP } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
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

/** A subscription's URL as requests are dispatched to it, or why nothing is sent there. */
type Target = { origin: string; path: string; refusal: null } | { refusal: string };

/** URLs parsed at most; the cache starts over past this (subscriptions' URLs rarely change). */
const TARGETS_KEPT = 1_000;

/**
 * POSTs webhooks. Every connection goes only to an address checked to be public (see
 * guardedLookup; an IP literal is checked here, since sockets skip the lookup for those),
 * redirects are not followed, and an attempt has `timeoutMs` in all, answer included.
 *
 * Requests go straight to the agent's `dispatch` with a handler of their own (WebhookAttempt):
 * the answer's status is all an attempt needs, and `request()` made a URL, a body stream and an
 * abort signal for each one, a third of a webhook's cost in the service.
 */
export class WebhookSender {
  readonly #agent: Agent;
  /** Attempts in flight, for cancelAll. */
  readonly #inFlight = new Set<WebhookAttempt>();
  readonly #targets = new Map<string, Target>();

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
  send(message: WebhookMessage): Promise<WebhookOutcome> {
    const target = this.#targetOf(message.url);
    if (target.refusal !== null) return Promise.resolve({ delivered: false, statusCode: null, error: target.refusal });
    return new Promise((resolve) => {
      const attempt = new WebhookAttempt(this.timeoutMs, (outcome) => {
        this.#inFlight.delete(attempt);
        resolve(outcome);
      });
      this.#inFlight.add(attempt);
      try {
        this.#agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: 'POST',
            headers: [
              'content-type', 'application/json',
              'user-agent', 'session-initiation-service-webhooks',
              'webhook-id', message.id,
              'webhook-timestamp', String(message.timestamp),
              'webhook-signature', message.signature,
            ],
            body: message.body,
          },
          attempt,
        );
      } catch (error) {
        attempt.onResponseError(null, error as Error);
      }
    });
  }

  /** Cancels every attempt in flight (shutdown): each ends undelivered. */
  cancelAll(): void {
    for (const attempt of this.#inFlight) attempt.cancel();
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => {});
  }

  #targetOf(url: string): Target {
    let target = this.#targets.get(url);
    if (target) return target;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { refusal: `${url} is not a URL.` };
    }
    const host = hostOf(parsed);
    target =
      !this.policy.allowPrivate && isIP(host) && !isPublicAddress(host)
        ? { refusal: `${host} is not a public address; not connected.` }
        : { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, refusal: null };
    if (this.#targets.size >= TARGETS_KEPT) this.#targets.clear();
    this.#targets.set(url, target);
    return target;
  }
}

/** One attempt as undici's dispatch handler: notes the answer's status, drops its body, ends once. */
class WebhookAttempt implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null;
  #statusCode = 0;
  /** Why the attempt was stopped before its answer: it ends with this error. */
  #stopped: string | null = null;
  #ended = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    timeoutMs: number,
    private readonly done: (outcome: WebhookOutcome) => void,
  ) {
    this.#timer = setTimeout(() => this.#stop(`No answer within ${timeoutMs} ms.`), timeoutMs);
  }

  cancel(): void {
    this.#stop('Cancelled: the service is stopping.');
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Stopped while it waited for a connection: it ended then; end the request too.
    if (this.#stopped !== null) controller.abort(new Error(this.#stopped));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.#statusCode = statusCode;
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    const statusCode = this.#statusCode;
    if (statusCode >= 200 && statusCode < 300) this.#end({ delivered: true, statusCode });
    else this.#end({ delivered: false, statusCode, error: statusCode >= 300 && statusCode < 400 ? `HTTP ${statusCode} (redirects are not followed)` : `HTTP ${statusCode}` });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#end({ delivered: false, statusCode: null, error: this.#stopped ?? describe(error) });
  }

  /** Ends the attempt now with `reason` and aborts its request, or has it aborted once it starts. */
  #stop(reason: string): void {
    if (this.#ended || this.#stopped !== null) return;
    this.#stopped = reason;
    this.#end({ delivered: false, statusCode: null, error: reason });
    this.#controller?.abort(new Error(reason));
  }

  #end(outcome: WebhookOutcome): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.done(outcome);
  }
}

function describe(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}
