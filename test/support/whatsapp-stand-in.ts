import { HttpStandIn, type RecordedRequest, type StandInReply } from './http-stand-in.js';

/**
 * The WhatsApp Cloud API's send endpoint (`POST /{phoneNumberId}/messages`), speaking the
 * format of shared/channels.md: a `wamid.` id per accepted message (told to `onAccepted`), and
 * the Graph error body for the replies tests program with `whatsAppError`.
 */
export async function startWhatsAppStandIn(options: { onAccepted?: (request: RecordedRequest, wamid: string) => void } = {}): Promise<HttpStandIn> {
  let counter = 0;
  return HttpStandIn.start((request) => {
    if (request.method !== 'POST' || !/^\/[^/]+\/messages$/.test(request.path)) {
      return whatsAppError(100, 'Unsupported post request.', 400);
    }
    if (!String(request.headers.authorization ?? '').startsWith('Bearer ')) {
      return whatsAppError(190, 'Invalid OAuth access token.', 401);
    }
    const to = String(request.body?.to ?? '');
    counter += 1;
    const wamid = `wamid.HBgL${String(counter).padStart(6, '0')}`;
    options.onAccepted?.(request, wamid);
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: to, wa_id: to.replace(/^\+/, '') }],
        messages: [{ id: wamid }],
      },
    };
  });
}

/** A Graph API error reply. */
export function whatsAppError(code: number, message: string, status = 400, details?: string): StandInReply {
  return {
    status,
    body: {
      error: {
        message,
        type: 'OAuthException',
        code,
        ...(details ? { error_data: { messaging_product: 'whatsapp', details } } : {}),
        fbtrace_id: 'AbCdEfGh123',
      },
    },
  };
}

/** The phone number id in the request path. */
export const phoneNumberIdOf = (request: RecordedRequest) => request.path.split('/')[1];
