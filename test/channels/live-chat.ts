import { randomUUID } from 'node:crypto';
import type { OutboundMessage } from '../../src/channels/channel-client.js';
import type { Channel, LiveChat } from '../../src/live-chats/model.js';

/** A live chat as the dispatcher hands it to a channel client (secrets included). */
export function liveChatWith(channel: Channel, overrides: Partial<Omit<LiveChat, 'channel'>> = {}): LiveChat {
  return { id: randomUUID(), name: 'Acme Support', channel, secretsReadable: true, createdAt: new Date(), updatedAt: new Date(), ...overrides };
}

export function textMessage(to: string, text: string, thread: string[] = [], subject?: string): OutboundMessage {
  return { id: randomUUID(), to, content: { text, ...(subject !== undefined ? { subject } : {}) }, thread };
}
