import { request } from 'undici';
import { deadline } from '../channels/deadline.js';
import { field } from '../channels/http-json.js';
import { Refusal } from '../domain/refusal.js';
import { type GraphTemplate, graphTemplateOf } from './catalogue-entry.js';

/** More pages than any real catalogue has: a provider that keeps paging is refused. */
const MAX_PAGES = 200;

/**
 * Reads a WhatsApp Business Account's whole template catalogue from the Graph API:
 * `GET {base}/{businessAccountId}/message_templates` and every `paging.next` after it, with the
 * live chat's bearer token. A next page is followed only under `baseUrl` (the token goes with
 * it). Throws `provider_error` when the provider refuses or cannot be reached, or a next link
 * leads elsewhere; never shows the token.
 */
export async function fetchTemplateCatalogue(
  options: { baseUrl: string; timeoutMs: number },
  account: { businessAccountId: string; accessToken: string },
): Promise<GraphTemplate[]> {
  const templates: GraphTemplate[] = [];
  let url: string | null = `${options.baseUrl}/${encodeURIComponent(account.businessAccountId)}/message_templates?limit=100`;
  for (let page = 0; url !== null; page++) {
    if (page >= MAX_PAGES) throw providerError(`WhatsApp kept paging past ${MAX_PAGES} pages of templates.`);
    const body = await getJson(url, account.accessToken, options.timeoutMs);
    const data = field(body, 'data');
    if (!Array.isArray(data)) throw providerError('WhatsApp answered without a list of templates.');
    for (const item of data) {
      const template = graphTemplateOf(item);
      if (template) templates.push(template);
    }
    const next = field(body, 'paging', 'next');
    url = typeof next === 'string' && next.length > 0 ? nextPage(next, options.baseUrl) : null;
  }
  return templates;
}

/** The next page's URL, when it lies under the configured base URL; else the sync is refused. */
function nextPage(next: string, baseUrl: string): string {
  let target: URL;
  try {
    target = new URL(next);
  } catch {
    throw providerError('WhatsApp answered with a next page that is not a URL.');
  }
  const base = new URL(`${baseUrl}/`);
  if (target.origin !== base.origin || !target.pathname.startsWith(base.pathname)) {
    throw providerError(`WhatsApp's next page of templates is not under ${base.origin}${base.pathname}; it was not followed.`);
  }
  return target.toString();
}

async function getJson(url: string, accessToken: string, timeoutMs: number): Promise<unknown> {
  const call = deadline(timeoutMs);
  try {
    const response = await request(url, { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' }, signal: call.signal });
    const text = await response.body.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: reported by status below.
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return body;
    const message = field(body, 'error', 'message');
    const code = field(body, 'error', 'code');
    const why = typeof message === 'string' && message.length > 0 ? message : `HTTP ${response.statusCode}`;
    throw providerError(`WhatsApp refused to list the templates: ${why}${typeof code === 'number' ? ` (code ${code})` : ''}.`);
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw providerError(call.timedOut() ? `WhatsApp did not answer within ${timeoutMs} ms.` : 'WhatsApp could not be reached.');
  } finally {
    call.done();
  }
}

const providerError = (detail: string) => new Refusal('provider_error', detail);
