import { isIP } from 'node:net';
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
      return classifySmtpError(error, channel.smtp);
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
    // Without implicit TLS the connection must upgrade with STARTTLS before anything (the
    // password above all) is sent; nodemailer would otherwise go on in plain text when the
    // server does not offer it.
    requireTLS: plaintextRefused(channel),
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

/** Whether the connection must be encrypted: not implicit TLS, not a loopback host, not allowPlaintext. */
export function plaintextRefused(channel: EmailChannel): boolean {
  return !channel.smtp.secure && !channel.smtp.allowPlaintext && !isLoopbackHost(channel.smtp.host);
}

/** localhost and the loopback addresses: a connection that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1') return true;
  const ipv4 = bare.replace(/^::ffff:/, '');
  return isIP(ipv4) === 4 && ipv4.startsWith('127.');
}

function bracketMessageId(id: string): string {
  const bare = id.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}

// Steps of setting the session up: what a server answers there is its banner or greeting,
// not a verdict on the message, and the stored error says what failed in our words instead.
const SESSION_COMMANDS = /^(CONN|EHLO|HELO|LHLO|STARTTLS|AUTH\b)/;
const MAX_MESSAGE = 500;

/**
 * 4xx replies are transient, 5xx permanent; a server out of reach or silent is transient. A
 * server that does not offer STARTTLS when it must is permanent (`smtp_tls_required`). Failures
 * while connecting and logging in are described in our own words, never with the remote
 * server's banner; replies to the message itself (MAIL, RCPT, DATA) keep the server's text.
 */
export function classifySmtpError(error: unknown, server: { host: string; port: number }): SendFailure {
  const e = (error ?? {}) as { responseCode?: unknown; response?: unknown; code?: unknown; command?: unknown; message?: unknown };
  const where = `the SMTP server ${server.host}:${server.port}`;
  const command = typeof e.command === 'string' ? e.command : '';
  const reply = typeof e.responseCode === 'number' ? ` (reply ${e.responseCode})` : '';
  if (e.code === 'ETLS' && command === 'STARTTLS' && typeof e.response === 'string') {
    return permanent('smtp_tls_required', `${where} does not offer STARTTLS${reply}; nothing was sent unencrypted. Use implicit TLS (secure) or set allowPlaintext.`);
  }
  if (e.code === 'ETLS') return transient('tls_error', `The TLS handshake with ${where} failed.`);
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') return permanent(`smtp_${e.code.toLowerCase()}`, `${where} refused the username and password${reply}.`);
  if (e.code === 'ETIMEDOUT') return transient('timeout', `${where} did not answer in time.`);
  if (SESSION_COMMANDS.test(command) || e.code === 'ECONNECTION' || e.code === 'EDNS' || e.code === 'ESOCKET' || (typeof e.code === 'string' && NETWORK_CODES.has(e.code))) {
    const what = command === 'CONN' || command === '' ? 'connecting to' : `the ${command.split(' ')[0]} step with`;
    const permanentReply = typeof e.responseCode === 'number' && e.responseCode >= 500 && command !== 'CONN';
    return permanentReply ? permanent(`smtp_${e.responseCode}`, `Failed at ${what} ${where}${reply}.`) : transient('network_error', `Failed at ${what} ${where}${reply}${socketCause(e)}.`);
  }
  const message = (typeof e.response === 'string' && e.response.length > 0 ? e.response : typeof e.message === 'string' ? e.message : String(error)).slice(0, MAX_MESSAGE);
  if (typeof e.responseCode === 'number') {
    const code = `smtp_${e.responseCode}`;
    return e.responseCode >= 500 ? permanent(code, message) : transient(code, message);
  }
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE' || e.code === 'ECONFIG') return permanent(`smtp_${e.code.toLowerCase()}`, message);
  return transient('smtp_error', message);
}

/** The local socket's reason (`connect ECONNREFUSED …`), when the error carries no server reply. */
function socketCause(e: { response?: unknown; message?: unknown }): string {
  return typeof e.response !== 'string' && typeof e.message === 'string' ? `: ${e.message.slice(0, 200)}` : '';
}
