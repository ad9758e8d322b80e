import createClient, { type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };
export type Session = components['schemas']['Session'];
export type Message = components['schemas']['Message'];
export type Contact = components['schemas']['Contact'];
export type LiveChat = components['schemas']['LiveChat'];
export type Problem = components['schemas']['Problem'];

/**
 * A typed client for the session-initiation API. Every call resolves `{ data, error, response }`:
 * `data` for a success, `error` (a Problem, RFC 9457) otherwise.
 *
 *   const api = createSessionClient({ baseUrl: 'http://localhost:3000', apiKey });
 *   const { data, error } = await api.POST('/sessions', { body: { ... } });
 *   if (error?.code === 'session_already_open') console.log(error.existingSessionId);
 */
export function createSessionClient(options: { baseUrl: string; apiKey: string } & Omit<ClientOptions, 'baseUrl'>) {
  const { apiKey, headers, ...rest } = options;
  return createClient<paths>({
    ...rest,
    headers: { ...(headers as Record<string, string> | undefined), Authorization: `Bearer ${apiKey}` },
  });
}
