import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A mail as the stand-in received it: the SMTP envelope and the parsed message. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  mail: ParsedMail;
}

/** A programmed answer: an SMTP error reply at RCPT TO or after DATA, or silence after DATA. */
export type SmtpFault = { at: 'rcpt' | 'data'; code: number; message: string } | { at: 'data'; hang: true };

/**
 * A real SMTP server on 127.0.0.1 (port 0): smtp-server without AUTH and STARTTLS (its built-in
 * certificate has expired), every message parsed with mailparser. Faults queued with
 * `failNext` answer the next messages, in order.
 */
export class SmtpStandIn {
  readonly received: ReceivedMail[] = [];
  readonly #faults: SmtpFault[] = [];
  #server!: SMTPServer;
  port = 0;

  static async start(): Promise<SmtpStandIn> {
    const standIn = new SmtpStandIn();
    await standIn.#listen();
    return standIn;
  }

  /** Answers the next message(s) with these faults, one per message. */
  failNext(...faults: SmtpFault[]): void {
    this.#faults.push(...faults);
  }

  reset(): void {
    this.#faults.length = 0;
    this.received.length = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #listen(): Promise<void> {
    // The fault taken at MAIL FROM belongs to that message's RCPT TO and DATA (per connection).
    const current = new Map<string, SmtpFault>();
    this.#server = new SMTPServer({
      disabledCommands: ['AUTH', 'STARTTLS'],
      authOptional: true,
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
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.server.address() as AddressInfo).port;
  }
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}
