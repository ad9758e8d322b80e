import nodemailer from 'nodemailer';
import type { EmailChannel, LiveChat } from '../live-chats/model.js';
import { deadline } from './deadline.js';
import {
  type ChannelClient,
  type OutboundMessage,
  type SendFailure,
  type SendResult,
  permanent,
  sent,
  transient,
  wrongChannel,
} from './channel-client.js';

export interface EmailClientOptions {
  /** Deadline for one message: connecting, the greeting, every reply, and the whole send. */
  timeoutMs: number;
}

type Transporter = ReturnType<typeof createPooledTransport>;

/** A long conversation would grow References without bound; the newest ids are what count. */
export const MAX_REFERENCES = 20;
// Socket-level failures: the server was not reached or went away.
const NETWORK_CODES = new Set(['ECONNECTION', 'ESOCKET', 'EDNS', 'ETLS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EPROTOCOL']);

/**
 * Email over SMTP with the live chat's own server. One pooled transport per live chat, rebuilt
 * when the live chat changes (keyed by id and updatedAt), so new SMTP settings take effect.
 * Each message gets our own Message-ID, `<message id@inbox domain>`, the same on every attempt.
 */
export class EmailClient implements ChannelClient {
  readonly #transports = new Map<string, { version: number; transport: Transporter }>();

  constructor(private readonly options: EmailClientOptions) {}

  async send(liveChat: LiveChat, message: OutboundMessage, signal?: AbortSignal): Promise<SendResult> {
    const channel = liveChat.channel;
    if (channel.type !== 'email') return wrongChannel('email', liveChat);
    if (message.content.text === undefined) return permanent('template_not_supported', 'Email messages are text only.');
    const domain = channel.address.slice(channel.address.lastIndexOf('@') + 1);
    const messageId = `<${message.id}@${domain}>`;
    const thread = message.thread.map(bracketMessageId).slice(-MAX_REFERENCES);
    const call = deadline(this.options.timeoutMs, signal);
    try {
      await this.#transportFor(liveChat, channel).sendMail({
        from: { name: liveChat.name, address: channel.address },
        to: message.to,
        // Stored with the message (see the sessions' writes); a message queued before subjects were stored takes the name.
        subject: message.content.subject ?? liveChat.name,
        text: message.content.text,
        messageId,
        ...(thread.length > 0 ? { inReplyTo: thread.at(-1), references: thread } : {}),
        signal: call.signal,
      });
      return sent(messageId, message.to);
    } catch (error) {
      if (call.timedOut()) return transient('timeout', `The SMTP server did not finish within ${this.options.timeoutMs} ms.`);
      if (signal?.aborted) return transient('aborted', 'The send was cancelled (shutting down).');
      return classifySmtpError(error);
    } finally {
      call.done();
    }
  }

  async close(): Promise<void> {
    for (const { transport } of this.#transports.values()) transport.close();
    this.#transports.clear();
  }

  #transportFor(liveChat: LiveChat, channel: EmailChannel): Transporter {
    const version = liveChat.updatedAt.getTime();
    const pooled = this.#transports.get(liveChat.id);
    if (pooled && pooled.version === version) return pooled.transport;
    // Settings changed: a delivery still on the old pool finishes there, then it closes.
    pooled?.transport.close();
    const transport = createPooledTransport(channel, this.options.timeoutMs);
    this.#transports.set(liveChat.id, { version, transport });
    return transport;
  }
}

function createPooledTransport(channel: EmailChannel, timeoutMs: number) {
  const { host, port, secure, username, password } = channel.smtp;
  const transport = nodemailer.createTransport({
    pool: true,
    host,
    port,
    secure,
    ...(username ? { auth: { user: username, pass: password ?? '' } } : {}),
    maxConnections: 3,
    maxRequeues: 1,
    idleTimeout: 60_000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  // Connection errors also reject the sendMail they belong to; without a listener the
  // emitter would throw them at the process.
  transport.on('error', () => {});
  return transport;
}

function bracketMessageId(id: string): string {
  const bare = id.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}

/** 4xx replies are transient, 5xx permanent; a server out of reach or silent is transient. */
export function classifySmtpError(error: unknown): SendFailure {
  const e = (error ?? {}) as { responseCode?: unknown; response?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.response === 'string' && e.response.length > 0 ? e.response : typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.responseCode === 'number') {
    const code = `smtp_${e.responseCode}`;
    if (e.responseCode >= 500) return permanent(code, message);
    return transient(code, message);
  }
  if (e.code === 'ETIMEDOUT') return transient('timeout', message);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return transient('network_error', message);
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH' || e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.code === 'ECONFIG') {
    return permanent(`smtp_${e.code.toLowerCase()}`, message);
  }
  return transient('smtp_error', message);
}
