export const TEMPLATE_MEDIA_TYPES = ['image', 'video', 'document'] as const;
export type TemplateMediaType = (typeof TEMPLATE_MEDIA_TYPES)[number];

/** A template's header parameter: the text of a `{{1}}` text header, or the media of a media header. */
export type TemplateHeader =
  | { type: 'text'; text: string }
  | { type: TemplateMediaType; link: string; filename?: string | undefined };

export const TEMPLATE_BUTTON_SUB_TYPES = ['url', 'quick_reply', 'copy_code'] as const;
export type TemplateButtonSubType = (typeof TEMPLATE_BUTTON_SUB_TYPES)[number];

/** The parameter of one of a template's buttons: a URL suffix, a quick reply's payload or a coupon code. */
export interface TemplateButton {
  index: number;
  subType: TemplateButtonSubType;
  parameter: string;
}

/** A WhatsApp template as a message names it: its name, language, and the parameters of its components. */
export interface MessageTemplate {
  name: string;
  language: string;
  /** The body's `{{n}}`, in order. */
  parameters?: string[] | undefined;
  header?: TemplateHeader | undefined;
  buttons?: TemplateButton[] | undefined;
}

/**
 * What an outbound message says: text (with an email's subject), or a WhatsApp template. One
 * type from request to provider.
 */
export type MessageContent = { text: string; subject?: string | undefined; template?: undefined } | { template: MessageTemplate; text?: undefined; subject?: undefined };

/** What a message is: a caption or body goes in its text, media stays with the provider. */
export const MESSAGE_KINDS = ['text', 'template', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'other'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** A media message's file as the provider keeps it (the bytes are fetched from the provider). */
export interface MessageMedia {
  providerMediaId: string;
  mimeType: string | null;
  fileName: string | null;
  caption: string | null;
}

export const MESSAGE_DIRECTIONS = ['outbound', 'inbound'] as const;
export type MessageDirection = (typeof MESSAGE_DIRECTIONS)[number];

export const MESSAGE_STATUSES = ['queued', 'sent', 'delivered', 'read', 'failed', 'received'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Why a message failed or is being retried, as the API shows it. */
export interface MessageError {
  code: string;
  message: string;
}
