import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A mail as the stand-in received it: the SMTP envelope and the parsed message. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  mail: ParsedMail;
}

/** A programmed answer: an SMTP error reply at RCPT TO or after DATA, or silence after DATA. */
export type SmtpFault = { at: 'rcpt' | 'data'; code: number; message: string } | { at: 'data'; hang: true };

export interface SmtpStandInOptions {
  /** Offer AUTH (over plain text) and record every login. Off: no AUTH, as most tests need. */
  auth?: boolean;
  /** The address to listen on; 127.0.0.1 unless given. */
  host?: string;
  /** The port; a free one unless given. */
  port?: number;
}

/**
 * A real SMTP server (port 0): smtp-server without STARTTLS (its built-in certificate has
 * expired) and, unless asked, without AUTH; every message parsed with mailparser. Faults queued
 * with `failNext` answer the next messages, in order; logins are recorded in `logins`.
 */
export class SmtpStandIn {
  readonly received: ReceivedMail[] = [];
  readonly logins: { username: string; password: string }[] = [];
  readonly #faults: SmtpFault[] = [];
  #server!: SMTPServer;
  port = 0;
  host = '127.0.0.1';

  static async start(options: SmtpStandInOptions = {}): Promise<SmtpStandIn> {
    const standIn = new SmtpStandIn();
    await standIn.#listen(options);
    return standIn;
  }

  /** Answers the next message(s) with these faults, one per message. */
  failNext(...faults: SmtpFault[]): void {
    this.#faults.push(...faults);
  }

  reset(): void {
    this.#faults.length = 0;
    this.received.length = 0;
    this.logins.length = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #listen(options: SmtpStandInOptions): Promise<void> {
    // The fault taken at MAIL FROM belongs to that message's RCPT TO and DATA (per connection).
    const current = new Map<string, SmtpFault>();
    this.#server = new SMTPServer({
      disabledCommands: options.auth ? ['STARTTLS'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      allowInsecureAuth: true,
      onAuth: (auth, _session, callback) => {
        this.logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
        callback(null, { user: auth.username });
      },
      logger: false,
      closeTimeout: 100,
      onMailFrom: (_address, session, callback) => {
        const fault = this.#faults.shift();
        if (fault) current.set(session.id, fault);
        else current.delete(session.id);
        callback();
      },
      onRcptTo: (_address, session, callback) => {
        const fault = current.get(session.id);
        if (fault && fault.at === 'rcpt' && 'code' in fault) return callback(smtpError(fault.code, fault.message));
        callback();
      },
      onData: (stream, session, callback) => {
        const fault = current.get(session.id);
        current.delete(session.id);
        simpleParser(stream).then(
          (mail) => {
            if (fault && 'hang' in fault) return; // never answer
            if (fault && 'code' in fault) return callback(smtpError(fault.code, fault.message));
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
            this.received.push({ envelope: { from, to: session.envelope.rcptTo.map((r) => r.address) }, mail });
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    this.#server.on('error', () => {});
    this.host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.#server.server.once('error', reject);
      this.#server.listen(options.port ?? 0, this.host, resolve);
    });
    this.port = (this.#server.server.address() as AddressInfo).port;
  }
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

/** An IPv4 address of this machine that is not loopback (to reach a stand-in as a remote server). */
export function nonLoopbackAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!address) throw new Error('These tests need a network interface other than loopback (to play a remote SMTP server).');
  return address.address;
}
