/** A WhatsApp template as a message names it: its name, language and body parameters. */
export interface MessageTemplate {
  name: string;
  language: string;
  parameters?: string[] | undefined;
}

/** What an outbound message says: text, or a WhatsApp template. One type from request to provider. */
export type MessageContent = { text: string; template?: undefined } | { template: MessageTemplate; text?: undefined };

export const MESSAGE_DIRECTIONS = ['outbound', 'inbound'] as const;
export type MessageDirection = (typeof MESSAGE_DIRECTIONS)[number];

export const MESSAGE_STATUSES = ['queued', 'sent', 'delivered', 'read', 'failed', 'received'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Why a message failed or is being retried, as the API shows it. */
export interface MessageError {
  code: string;
  message: string;
}
