import type { Config } from '../config.js';
import type { ChannelType } from '../domain/channel.js';
import type { ChannelClient } from './channel-client.js';
import { EmailClient } from './email-client.js';
import { TelegramClient } from './telegram-client.js';
import { WhatsAppClient } from './whatsapp-client.js';

/** The channel client for each channel type; the dispatcher picks one by the live chat's type. */
export interface ChannelRegistry {
  /** The client that speaks this channel type's provider format. */
  clientFor(type: ChannelType): ChannelClient;
  /** Closes every client's pooled connections; call once, after the last send. */
  close(): Promise<void>;
}

/** A registry over the given clients (tests pass their own). */
export function channelRegistryOf(clients: Record<ChannelType, ChannelClient>): ChannelRegistry {
  return {
    clientFor: (type) => clients[type],
    close: async () => {
      await Promise.all(Object.values(clients).map((client) => client.close?.()));
    },
  };
}

/** The real providers, with base URLs and the provider timeout from the configuration. */
export function createChannelRegistry(config: Pick<Config, 'whatsappApiBaseUrl' | 'telegramApiBaseUrl' | 'delivery'>): ChannelRegistry {
  const timeoutMs = config.delivery.providerTimeoutMs;
  return channelRegistryOf({
    whatsapp: new WhatsAppClient({ baseUrl: config.whatsappApiBaseUrl, timeoutMs }),
    telegram: new TelegramClient({ baseUrl: config.telegramApiBaseUrl, timeoutMs }),
    email: new EmailClient({ timeoutMs }),
  });
}
