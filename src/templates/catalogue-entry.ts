/** How a template's button takes a parameter: it needs one, it may take one (a quick reply's payload), or it takes none. */
export type ButtonParameter = 'required' | 'optional' | 'none';

/** One template of a live chat's catalogue, as check 6 and the API see it. */
export interface TemplateEntry {
  name: string;
  language: string;
  /** `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, … as WhatsApp says. */
  status: string;
  category: string | null;
  /** The distinct `{{n}}` in the body. */
  bodyParameters: number;
  /** `format`: TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION; `parameter`: whether a send must give one (media always, text with `{{1}}`). */
  header: { format: string; parameter: boolean } | null;
  /** Its buttons by position; `type` as WhatsApp names it (URL, QUICK_REPLY, COPY_CODE, PHONE_NUMBER, …). */
  buttons: { index: number; type: string; parameter: ButtonParameter }[];
}

/** A template as the Graph API lists it (`GET /{waba}/message_templates`), trusted in shape no further than checked. */
export interface GraphTemplate {
  name: string;
  language: string;
  status: string;
  category: string | null;
  id: string | null;
  components: unknown[];
}

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/** The catalogue entry of a template from its Graph components. */
export function entryOf(template: Omit<GraphTemplate, 'id'>): TemplateEntry {
  const components = template.components.filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null);
  const typed = (type: string) => components.find((c) => String(c.type).toUpperCase() === type);
  const body = typed('BODY');
  const header = typed('HEADER');
  const buttons = typed('BUTTONS')?.buttons;
  const headerFormat = header ? String(header.format ?? 'TEXT').toUpperCase() : null;
  return {
    name: template.name,
    language: template.language,
    status: template.status,
    category: template.category,
    bodyParameters: placeholders(body?.text),
    header: headerFormat ? { format: headerFormat, parameter: headerFormat !== 'TEXT' || placeholders(header!.text) > 0 } : null,
    buttons: Array.isArray(buttons)
      ? buttons.map((button: unknown, index) => {
          const b = (typeof button === 'object' && button !== null ? button : {}) as Record<string, unknown>;
          const type = String(b.type ?? '').toUpperCase();
          return { index, type, parameter: buttonParameter(type, b) };
        })
      : [],
  };
}

function buttonParameter(type: string, button: Record<string, unknown>): ButtonParameter {
  if (type === 'URL') return placeholders(button.url) > 0 ? 'required' : 'none';
  if (type === 'COPY_CODE') return 'required';
  if (type === 'QUICK_REPLY') return 'optional';
  return 'none';
}

/** The distinct `{{…}}` in a text. */
function placeholders(text: unknown): number {
  if (typeof text !== 'string') return 0;
  return new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1])).size;
}

/** A Graph API template object, or null when it lacks a name or language (it cannot be sent then). */
export function graphTemplateOf(value: unknown): GraphTemplate | null {
  if (typeof value !== 'object' || value === null) return null;
  const t = value as Record<string, unknown>;
  if (typeof t.name !== 'string' || typeof t.language !== 'string' || t.name === '' || t.language === '') return null;
  return {
    name: t.name,
    language: t.language,
    status: typeof t.status === 'string' ? t.status.toUpperCase() : 'UNKNOWN',
    category: typeof t.category === 'string' ? t.category : null,
    id: typeof t.id === 'string' || typeof t.id === 'number' ? String(t.id) : null,
    components: Array.isArray(t.components) ? t.components : [],
  };
}
