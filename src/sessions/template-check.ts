import type { MessageTemplate } from '../domain/message.js';
import { Refusal } from '../domain/refusal.js';
import type { TemplateEntry } from '../templates/catalogue-entry.js';
import type { Check } from './checks.js';

/**
 * Check 6: a WhatsApp template fits the live chat's catalogue, once it was synced — it exists
 * in that language, is approved, and its parameters fit (templateFit). Never synced: not checked.
 */
export const templateFits: Check = {
  name: 'template',
  reads: (ask, reach) => (reach.channel === 'whatsapp' && ask.message?.template ? ['template'] : []),
  run(ask, facts, reach) {
    const template = ask.message?.template;
    if (reach.channel !== 'whatsapp' || !template) return;
    const known = facts.template!;
    if (known.catalogueVersion === 0) return;
    return templateFit(template, known.entry);
  },
};

/**
 * The contract's Templates rule: the name and language exist, the status is APPROVED,
 * `parameters` has exactly the body's `{{n}}` count, a header is given iff the template's takes
 * a parameter (of its format), and buttons name only buttons that take one — all of those
 * that need one (a URL with `{{1}}`, a copy code), of their type.
 */
export function templateFit(template: MessageTemplate, entry: TemplateEntry | null): Refusal | undefined {
  const label = `${template.name} (${template.language})`;
  if (!entry) return new Refusal('template_not_found', `The live chat’s WhatsApp catalogue has no template ${label}.`);
  if (entry.status !== 'APPROVED') {
    return new Refusal('template_not_approved', `Template ${label} is ${entry.status}; only APPROVED templates can be sent.`);
  }
  if (fits(template, entry)) return undefined;
  return new Refusal('template_parameters_mismatch', `Template ${label} takes ${expected(entry)}; the message gives ${given(template)}.`);
}

const HEADER_TYPE: Record<string, string> = { TEXT: 'text', IMAGE: 'image', VIDEO: 'video', DOCUMENT: 'document' };
const BUTTON_TYPE: Record<string, string> = { URL: 'url', QUICK_REPLY: 'quick_reply', COPY_CODE: 'copy_code' };

function fits(template: MessageTemplate, entry: TemplateEntry): boolean {
  if ((template.parameters?.length ?? 0) !== entry.bodyParameters) return false;
  const header = entry.header?.parameter ? entry.header : null;
  // A header format the request cannot fill (LOCATION) never fits.
  if (header ? !HEADER_TYPE[header.format] || template.header?.type !== HEADER_TYPE[header.format] : template.header !== undefined) return false;
  const given = new Map((template.buttons ?? []).map((b) => [b.index, b]));
  for (const button of entry.buttons) {
    const sent = given.get(button.index);
    given.delete(button.index);
    if (sent && (button.parameter === 'none' || sent.subType !== BUTTON_TYPE[button.type])) return false;
    if (!sent && button.parameter === 'required') return false;
  }
  return given.size === 0;
}

/** What the template takes, e.g. "2 body parameters, an image header and a parameter for its URL button 0". */
function expected(entry: TemplateEntry): string {
  const parts = [count(entry.bodyParameters, 'body parameter')];
  if (entry.header?.parameter) {
    const type = HEADER_TYPE[entry.header.format];
    parts.push(type ? `${article(type)} header` : `a ${entry.header.format.toLowerCase()} header (which this API cannot fill)`);
  }
  for (const button of entry.buttons) {
    if (button.parameter === 'required') parts.push(`a parameter for its ${button.type} button ${button.index}`);
    if (button.parameter === 'optional') parts.push(`optionally a payload for its ${button.type} button ${button.index}`);
  }
  return list(parts);
}

function given(template: MessageTemplate): string {
  const buttons = template.buttons ?? [];
  return list([
    count(template.parameters?.length ?? 0, 'body parameter'),
    template.header ? `${article(template.header.type)} header` : 'no header',
    buttons.length === 0 ? 'no buttons' : `buttons ${buttons.map((b) => `${b.index} (${b.subType})`).join(', ')}`,
  ]);
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const article = (word: string) => `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
const list = (parts: string[]) => (parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`);
