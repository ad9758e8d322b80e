import { request } from 'undici';
import { type TransientFailure, transient } from './channel-client.js';
import { deadline } from './deadline.js';

/** What came back from a provider's HTTP API: a status and the parsed body (null if not JSON). */
export interface JsonResponse {
  status: number;
  body: unknown;
}

/**
 * POSTs JSON with a hard deadline covering the connection, the response and its body. A
 * network error, the deadline or `signal` become a transient failure; nothing throws. The
 * URL is never put into a message: it can carry a secret (Telegram's bot token).
 */
export async function postJson(
  url: string,
  body: unknown,
  options: { headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<JsonResponse | TransientFailure> {
  const call = deadline(options.timeoutMs, options.signal);
  try {
    // undici's request() over pooled keep-alive connections: the same client fetch() is built
    // on, without the WHATWG streams and objects that made fetch() a large share of the
    // dispatcher's CPU time under load.
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
      body: JSON.stringify(body),
      signal: call.signal,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: parseJson(text) };
  } catch (error) {
    if (call.timedOut()) return transient('timeout', `The provider did not answer within ${options.timeoutMs} ms.`);
    if (options.signal?.aborted) return transient('aborted', 'The request was cancelled (shutting down).');
    return transient('network_error', describeNetworkError(error));
  } finally {
    call.done();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** What happened on the wire (ECONNREFUSED, ECONNRESET, …), without the URL. */
function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Reads `obj.a.b.c` from parsed JSON without trusting its shape. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
