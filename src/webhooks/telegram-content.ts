import type { MessageKind, MessageMedia } from '../domain/message.js';
import type { TelegramUpdate } from './schemas.js';

type TelegramMessage = NonNullable<TelegramUpdate['message']>;

/**
 * A Telegram message of any kind as the service stores it: a photo is an `image` (its largest
 * size), a voice note `audio`, an animation or a round video `video`; the caption is its text;
 * the file stays with Telegram (its file_id is kept).
 */
export function telegramInboundContent(message: TelegramMessage): { kind: MessageKind; text: string | null; media: MessageMedia | null } {
  const caption = message.caption ?? null;
  const file = (kind: MessageKind, f: { file_id: string; mime_type?: string | undefined; file_name?: string | undefined }) => ({
    kind,
    text: caption,
    media: { providerMediaId: f.file_id, mimeType: f.mime_type ?? null, fileName: f.file_name ?? null, caption },
  });
  const largestPhoto = message.photo?.reduce((a, b) => ((b.width ?? 0) * (b.height ?? 0) >= (a.width ?? 0) * (a.height ?? 0) ? b : a));
  if (largestPhoto) return file('image', largestPhoto);
  if (message.animation) return file('video', message.animation);
  if (message.video) return file('video', message.video);
  if (message.video_note) return file('video', message.video_note);
  if (message.voice) return file('audio', message.voice);
  if (message.audio) return file('audio', message.audio);
  if (message.document) return file('document', message.document);
  if (message.sticker) return { kind: 'sticker', text: message.sticker.emoji ?? null, media: { providerMediaId: message.sticker.file_id, mimeType: null, fileName: null, caption: null } };
  if (message.location) {
    const label = [message.venue?.title, message.venue?.address].filter(Boolean).join(', ');
    return { kind: 'location', text: `${label ? `${label} ` : ''}(${message.location.latitude}, ${message.location.longitude})`, media: null };
  }
  if (message.contact) return { kind: 'contacts', text: [message.contact.first_name, message.contact.phone_number].filter(Boolean).join(' '), media: null };
  if (message.text !== undefined) return { kind: 'text', text: message.text, media: null };
  return { kind: 'other', text: caption, media: null };
}
