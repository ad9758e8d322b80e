import { BUSINESS_ACCOUNT_ID } from './provider-stand-in.js';
import type { ServiceProcess } from './service-process.js';

export const OPERATOR_ID = 'op-bench';

export interface BenchLiveChat {
  id: string;
  /** Its WhatsApp number: the stand-in counts its sends per second by it. */
  phoneNumberId: string;
}

export interface BenchSetup {
  liveChats: BenchLiveChat[];
  /** The event subscription's id, or null with the features off. */
  subscriptionId: string | null;
  /** Templates in each live chat's synced catalogue, or null with the features off. */
  templates: number | null;
}

/**
 * The live chats the load is spread over, each with `sendRate` as its sendRatePerSecond and the
 * bench's operator assigned. With the features on (the default, as in production) every live
 * chat also has a synced template catalogue, which each request's template is checked
 * against, and one event subscription receives every event. Pacing cannot be switched off.
 */
export async function prepareLiveChats(
  service: ServiceProcess,
  options: { count: number; sendRate: number; features: boolean; receiverUrl: string },
): Promise<BenchSetup> {
  const liveChats: BenchLiveChat[] = [];
  let templates: number | null = null;
  for (let i = 0; i < options.count; i++) {
    const phoneNumberId = `1065403522${String(i).padStart(4, '0')}`;
    const chat = await service.api('POST', '/live-chats', {
      name: `Bench ${i + 1}`,
      channel: {
        type: 'whatsapp',
        phoneNumberId,
        accessToken: 'bench-token',
        sendRatePerSecond: options.sendRate,
        ...(options.features ? { businessAccountId: BUSINESS_ACCOUNT_ID } : {}),
      },
    });
    await service.api('PUT', `/live-chats/${chat.id}/operators/${OPERATOR_ID}`);
    if (options.features) templates = (await service.api('POST', `/live-chats/${chat.id}/templates/sync`)).synced;
    liveChats.push({ id: chat.id, phoneNumberId });
  }
  const subscriptionId = options.features ? await subscribeReceiver(service, options.receiverUrl) : null;
  return { liveChats, subscriptionId, templates };
}

/** An event subscription to every event, delivered to the bench's receiver; returns its id. */
export async function subscribeReceiver(service: ServiceProcess, receiverUrl: string): Promise<string> {
  return (await service.api('POST', '/event-subscriptions', { url: receiverUrl, description: 'npm run bench: every event' })).id;
}
