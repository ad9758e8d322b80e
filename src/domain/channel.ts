/** The kinds of external channel a live chat connects, declared once for types and schemas. */
export const CHANNEL_TYPES = ['whatsapp', 'telegram', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** Messages a second a live chat sends at most, unless it says otherwise (see Pacing in the contract). */
export const DEFAULT_SEND_RATE_PER_SECOND: Record<ChannelType, number> = { whatsapp: 80, telegram: 30, email: 10 };
export const MAX_SEND_RATE_PER_SECOND = 1000;
