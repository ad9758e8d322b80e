import { HttpStandIn, type RecordedRequest, type StandInReply } from './http-stand-in.js';

/**
 * The WhatsApp Cloud API's send endpoint (`POST /{phoneNumberId}/messages`), speaking the
 * format of shared/channels.md: a `wamid.` id per accepted message (told to `onAccepted`), and
 * the Graph error body for the replies tests program with `whatsAppError`. With `catalogues` it
 * also lists each business account's templates (`GET /{businessAccountId}/message_templates`), a
 * page of them at a time, chained by `paging.next`.
 */
export async function startWhatsAppStandIn(
  options: { onAccepted?: (request: RecordedRequest, wamid: string) => void; catalogues?: Map<string, unknown[][]> } = {},
): Promise<HttpStandIn> {
  const catalogues = options.catalogues ?? new Map<string, unknown[][]>();
  let counter = 0;
  const ready: { url?: string } = {};
  const standIn = await HttpStandIn.start((request) => {
    const listing = /^\/([^/?]+)\/message_templates(?:\?(.*))?$/.exec(request.path);
    if (request.method === 'GET' && listing) return templatePage(catalogues, listing[1]!, new URLSearchParams(listing[2] ?? ''), ready.url!);
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
  ready.url = standIn.url;
  return standIn;
}

/** One page of a business account's templates, as Graph lists them. */
function templatePage(catalogues: Map<string, unknown[][]>, account: string, query: URLSearchParams, url: string): StandInReply {
  const pages = catalogues.get(account);
  if (!pages) return whatsAppError(100, `Unsupported get request. Object with ID '${account}' does not exist.`, 400);
  const page = Number(query.get('after') ?? 0);
  const next = page + 1 < pages.length ? `${url}/${account}/message_templates?limit=100&after=${page + 1}` : undefined;
  return { status: 200, body: { data: pages[page] ?? [], paging: { cursors: { before: 'MAZDZD', after: 'MjQZD' }, ...(next ? { next } : {}) } } };
}

/** A template as the Graph API lists it: the body's text, and optionally a header and buttons. */
export function graphTemplate(
  name: string,
  options: { language?: string; status?: string; body?: string; header?: Record<string, unknown>; buttons?: Record<string, unknown>[]; category?: string } = {},
) {
  return {
    name,
    language: options.language ?? 'en_US',
    status: options.status ?? 'APPROVED',
    category: options.category ?? 'UTILITY',
    id: `${name.length}${Math.floor(Math.random() * 1e9)}`,
    components: [
      ...(options.header ? [{ type: 'HEADER', ...options.header }] : []),
      { type: 'BODY', text: options.body ?? 'Hello' },
      ...(options.buttons ? [{ type: 'BUTTONS', buttons: options.buttons }] : []),
    ],
  };
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
