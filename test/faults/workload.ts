import type http from 'node:http';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../src/db/connection.js';
import { newPhone } from '../support/fixtures.js';
import { NoResponse, request } from './http-client.js';
import { labelledTemplate } from './whatsapp-provider.js';

export interface Chat {
  liveChatId: string;
  operatorId: string;
}

let counter = 0;
/** A label unique in this test run, for a session's first message. */
export const nextLabel = (prefix: string) => `${prefix}-${(counter++).toString(36)}`;

/** Creates a WhatsApp live chat through the API of a running service and assigns an operator. */
export async function whatsAppLiveChat(baseUrl: string): Promise<Chat> {
  const created = await request(baseUrl, 'POST', '/live-chats', {
    name: `faults ${nextLabel('chat')}`,
    channel: { type: 'whatsapp', phoneNumberId: '106540352242922', accessToken: 'EAAG-fault-token', appSecret: 'app-secret', verifyToken: 'verify' },
  });
  if (created.status !== 201) throw new Error(`live chat not created: ${created.status} ${created.body}`);
  const operatorId = 'op-faults';
  const assigned = await request(baseUrl, 'PUT', `/live-chats/${created.data.id}/operators/${operatorId}`);
  if (assigned.status !== 204) throw new Error(`operator not assigned: ${assigned.status} ${assigned.body}`);
  return { liveChatId: created.data.id, operatorId };
}

/** What one request of a load got back: a response, or the reason there was none. */
export interface Outcome {
  label: string;
  phone: string;
  /** Which service (of several) it was sent to. */
  target: string;
  status: number | null;
  code: string | null;
  sessionId: string | null;
  /** The open session a 409 session_already_open names. */
  existingSessionId: string | null;
  contentType: string | null;
  retryAfter: string | null;
  /** NoResponse's code (ECONNREFUSED, ECONNRESET, CLIENT_TIMEOUT, …) when there was no response. */
  noResponse: string | null;
  sentAt: number;
}

/** POST /sessions for a new person, with a labelled template message. Never throws. */
export async function initiateSession(baseUrl: string, chat: Chat, options: { label: string; phone?: string; agent?: http.Agent; timeoutMs?: number }): Promise<Outcome> {
  const phone = options.phone ?? newPhone();
  const sentAt = Date.now();
  const base = { label: options.label, phone, target: baseUrl, sentAt };
  try {
    const response = await request(
      baseUrl,
      'POST',
      '/sessions',
      { liveChatId: chat.liveChatId, operatorId: chat.operatorId, contact: { name: `Person ${options.label}`, phones: [phone] }, message: labelledTemplate(options.label) },
      { agent: options.agent, timeoutMs: options.timeoutMs },
    );
    const data = typeof response.data === 'object' && response.data !== null ? response.data : {};
    return {
      ...base,
      status: response.status,
      code: typeof data.code === 'string' ? data.code : null,
      sessionId: response.status === 201 ? data.id : null,
      existingSessionId: typeof data.existingSessionId === 'string' ? data.existingSessionId : null,
      contentType: String(response.headers['content-type'] ?? '') || null,
      retryAfter: (response.headers['retry-after'] as string | undefined) ?? null,
      noResponse: null,
    };
  } catch (error) {
    if (!(error instanceof NoResponse)) throw error;
    return { ...base, status: null, code: null, sessionId: null, existingSessionId: null, contentType: null, retryAfter: null, noResponse: error.code };
  }
}

/**
 * Runs `concurrency` workers, each sending one request after another, until `stop()` says so
 * (checked before each request) or a worker's request finds no service (when `endOnNoResponse`).
 */
export async function runLoad(options: {
  concurrency: number;
  send: (worker: number) => Promise<Outcome>;
  stop: () => boolean;
  endOnNoResponse?: boolean;
  outcomes?: Outcome[];
}): Promise<Outcome[]> {
  const outcomes = options.outcomes ?? [];
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      while (!options.stop()) {
        const outcome = await options.send(worker);
        outcomes.push(outcome);
        if (options.endOnNoResponse && outcome.noResponse) return;
      }
    }),
  );
  return outcomes;
}

/** One row per session of the live chat, with its messages (as the database has them). */
export interface StoredSession {
  id: string;
  account: string;
  status: string;
  messages: { id: string; status: string; attempts: number; label: string | null }[];
}

/** Every session of the live chat and its messages, read straight from the database. */
export async function storedSessions(database: DatabaseHandle, liveChatId: string): Promise<Map<string, StoredSession>> {
  const rows = await sql<{ id: string; account: string; status: string; message_id: string | null; message_status: string | null; attempts: number | null; label: string | null }>`
    SELECT s.id, s.account, s.status, m.id AS message_id, m.status AS message_status, m.attempts,
           m.template -> 'parameters' ->> 0 AS label
    FROM sessions s LEFT JOIN messages m ON m.session_id = s.id
    WHERE s.live_chat_id = ${liveChatId}
    ORDER BY s.id, m.seq
  `.execute(database.db);
  const sessions = new Map<string, StoredSession>();
  for (const row of rows.rows) {
    const session = sessions.get(row.id) ?? { id: row.id, account: row.account, status: row.status, messages: [] };
    if (row.message_id) session.messages.push({ id: row.message_id, status: row.message_status!, attempts: row.attempts!, label: row.label });
    sessions.set(row.id, session);
  }
  return sessions;
}

/** Counts outcomes by `status code` (or the reason there was no response), for failure messages. */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.noResponse ?? `${o.status}${o.code ? ` ${o.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
