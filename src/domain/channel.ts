/** The kinds of external channel a live chat connects, declared once for types and schemas. */
export const CHANNEL_TYPES = ['whatsapp', 'telegram', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];
