import { setTimeout as sleep } from 'node:timers/promises';
import { HttpStandIn, type RecordedRequest } from '../support/http-stand-in.js';
import { whatsAppError } from '../support/whatsapp-stand-in.js';

/** `up`: sends are accepted; `unavailable`: 503 with Graph's temporary error; `cutting`: the connection is reset. */
export type ProviderState = 'up' | 'unavailable' | 'cutting';

/**
 * The WhatsApp Cloud API as the fault tests need it: it can go down and come back, can take a
 * while to accept a send (deliveries in flight), and records every send it accepted, so that a
 * test can tell that each message went out exactly once. Messages are told apart by their
 * template parameter, which the tests make unique (see `labelOf`).
 */
export class FaultyWhatsApp {
  state: ProviderState = 'up';
  /** How long accepting a send takes. */
  latencyMs = 0;
  /** Every send accepted, in order. */
  readonly accepted: RecordedRequest[] = [];
  #pending = 0;
  #counter = 0;

  private constructor(readonly standIn: HttpStandIn) {}

  static async start(): Promise<FaultyWhatsApp> {
    const ready: { provider?: FaultyWhatsApp } = {};
    const standIn = await HttpStandIn.start((request) => ready.provider!.#answer(request));
    ready.provider = new FaultyWhatsApp(standIn);
    return ready.provider;
  }

  get url(): string {
    return this.standIn.url;
  }

  /** Every send request received, refused ones included. */
  get requests(): RecordedRequest[] {
    return this.standIn.requests;
  }

  /** Sends being accepted right now (received, not yet answered). */
  get pending(): number {
    return this.#pending;
  }

  /** How many times the message with this label was accepted. */
  acceptedCount(label: string): number {
    return this.accepted.filter((r) => labelOf(r) === label).length;
  }

  /** How many send requests (accepted or not) carried this label. */
  requestCount(label: string): number {
    return this.requests.filter((r) => labelOf(r) === label).length;
  }

  close(): Promise<void> {
    return this.standIn.close();
  }

  async #answer(request: RecordedRequest) {
    if (this.state === 'unavailable') return whatsAppError(2, 'Service temporarily unavailable', 503);
    if (this.state === 'cutting') return { destroy: true as const };
    this.#pending++;
    try {
      if (this.latencyMs > 0) await sleep(this.latencyMs);
    } finally {
      this.#pending--;
    }
    // Accepted: from here on the message counts as sent, even if the caller never reads the answer.
    this.accepted.push(request);
    this.#counter += 1;
    const to = String(request.body?.to ?? '');
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: to, wa_id: to.replace(/^\+/, '') }],
        messages: [{ id: `wamid.FAULT${String(this.#counter).padStart(8, '0')}` }],
      },
    };
  }
}

/** A template message whose one parameter names it, so the provider can count it. */
export function labelledTemplate(label: string) {
  return { template: { name: 'order_update', language: 'en_US', parameters: [label] } };
}

/** The label of a send request (the template's first parameter), or null. */
export function labelOf(request: RecordedRequest): string | null {
  const text = request.body?.template?.components?.[0]?.parameters?.[0]?.text;
  return typeof text === 'string' ? text : null;
}
