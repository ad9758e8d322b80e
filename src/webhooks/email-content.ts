import { createHash } from 'node:crypto';
import { htmlToText } from 'html-to-text';
import { simpleParser } from 'mailparser';
import type { MessageKind, MessageMedia } from '../domain/message.js';

/** An inbound email as the service stores it. */
export interface InboundEmail {
  /** Its Message-ID, in angle brackets; one made from the bytes when the mail has none. */
  messageId: string;
  /** The Message-IDs it answers (In-Reply-To, then References, newest first). */
  answers: string[];
  from: { address: string; name: string } | null;
  subject: string | null;
  /** The plain-text body; an HTML-only mail's HTML as text. */
  text: string;
  attachments: { kind: MessageKind; media: MessageMedia }[];
}

/** Parses a raw RFC 5322 message (as a mail server pipes it) into what is stored of it. */
export async function parseInboundEmail(raw: Buffer): Promise<InboundEmail> {
  const mail = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
  const plain = mail.text?.trim() ? mail.text : '';
  const text = plain || (typeof mail.html === 'string' ? htmlToText(mail.html, { wordwrap: false }) : '');
  const references = typeof mail.references === 'string' ? [mail.references] : (mail.references ?? []);
  const answers = [...new Set([mail.inReplyTo, ...[...references].reverse()].filter((id): id is string => typeof id === 'string').map(bracket))];
  const sender = mail.from?.value[0];
  return {
    messageId: mail.messageId ? bracket(mail.messageId) : `<sha256.${createHash('sha256').update(raw).digest('hex')}@inbound.invalid>`,
    answers,
    from: sender?.address ? { address: sender.address, name: sender.name ?? '' } : null,
    subject: mail.subject?.trim() || null,
    text: text.trim(),
    attachments: mail.attachments.map((a, i) => ({
      kind: kindOf(a.contentType),
      media: {
        // An email's attachment has no provider keeping it: this names it within its message.
        providerMediaId: a.contentId ? bracket(a.contentId) : `${a.checksum ?? 'attachment'}#${i + 1}`,
        mimeType: a.contentType ?? null,
        fileName: a.filename ?? null,
        caption: null,
      },
    })),
  };
}

function kindOf(contentType: string | undefined): MessageKind {
  const type = (contentType ?? '').split('/')[0];
  return type === 'image' || type === 'video' || type === 'audio' ? type : 'document';
}

function bracket(id: string): string {
  return `<${id.trim().replace(/^<|>$/g, '')}>`;
}
