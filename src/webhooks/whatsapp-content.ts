import type { MessageKind, MessageMedia } from '../domain/message.js';
import type { WhatsAppInboundMessage } from './schemas.js';

const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;

/**
 * An inbound WhatsApp message of any type as the service stores it: its kind, the text a
 * person reads (the body, a caption, a button's or a list's title, a place, a contact card),
 * and a media file's id and metadata (the bytes stay with the Graph API).
 */
export function whatsAppInboundContent(message: WhatsAppInboundMessage): { kind: MessageKind; text: string | null; media: MessageMedia | null } {
  for (const kind of MEDIA_KINDS) {
    const media = message.type === kind ? message[kind] : undefined;
    if (media) {
      const caption = media.caption ?? null;
      return { kind, text: caption, media: { providerMediaId: media.id, mimeType: media.mime_type ?? null, fileName: media.filename ?? null, caption } };
    }
  }
  switch (message.type) {
    case 'text':
      return { kind: 'text', text: message.text?.body ?? null, media: null };
    case 'button':
      return { kind: 'text', text: message.button?.text ?? null, media: null };
    case 'interactive': {
      const reply = message.interactive?.button_reply ?? message.interactive?.list_reply;
      return { kind: 'text', text: reply?.title ?? null, media: null };
    }
    case 'location': {
      const place = message.location;
      if (!place) break;
      const label = [place.name, place.address].filter(Boolean).join(', ');
      return { kind: 'location', text: `${label ? `${label} ` : ''}(${place.latitude}, ${place.longitude})`, media: null };
    }
    case 'contacts': {
      const cards = (message.contacts ?? []).map((card) => [card.name?.formatted_name, ...(card.phones ?? []).map((p) => p.phone)].filter(Boolean).join(' '));
      return { kind: 'contacts', text: cards.join('\n') || null, media: null };
    }
    case 'reaction':
      return { kind: 'other', text: message.reaction?.emoji ?? null, media: null };
  }
  return { kind: 'other', text: message.text?.body ?? null, media: null };
}
