import type { Static } from 'typebox';
import type { MessageTemplate, TemplateHeader } from '../domain/message.js';
import type { FieldError } from '../domain/refusal.js';
import type { TemplateSchema } from './schemas.js';

type TemplateInput = Static<typeof TemplateSchema>;

/**
 * Check 1 for a template's header and buttons (see Templates in the contract): a text header
 * carries `text` only, a media header a `link` (and a `filename` for a document only); a
 * button is named once.
 */
export function templateErrors(template: TemplateInput, pointer: string): FieldError[] {
  const errors: FieldError[] = [];
  const header = template.header;
  if (header) {
    const at = `${pointer}/header`;
    if (header.type === 'text') {
      if (header.text === undefined) errors.push({ field: `${at}/text`, code: 'required', message: 'A text header takes `text`.' });
      if (header.link !== undefined) errors.push({ field: `${at}/link`, code: 'not_allowed', message: 'A text header takes no `link`.' });
    } else {
      if (header.link === undefined) errors.push({ field: `${at}/link`, code: 'required', message: `An ${header.type} header takes the media's \`link\`.` });
      if (header.text !== undefined) errors.push({ field: `${at}/text`, code: 'not_allowed', message: `An ${header.type} header takes no \`text\`.` });
    }
    if (header.filename !== undefined && header.type !== 'document') {
      errors.push({ field: `${at}/filename`, code: 'not_allowed', message: 'Only a document header takes a `filename`.' });
    }
  }
  const seen = new Set<number>();
  for (const [i, button] of (template.buttons ?? []).entries()) {
    if (seen.has(button.index)) errors.push({ field: `${pointer}/buttons/${i}/index`, code: 'duplicate', message: `Button ${button.index} is given twice.` });
    seen.add(button.index);
  }
  return errors;
}

/** The template as a message carries it, after templateErrors found nothing. */
export function templateOf(input: TemplateInput): MessageTemplate {
  const { header, buttons, ...rest } = input;
  return {
    ...rest,
    ...(header ? { header: headerOf(header) } : {}),
    ...(buttons ? { buttons: [...buttons].sort((a, b) => a.index - b.index) } : {}),
  };
}

function headerOf(header: NonNullable<TemplateInput['header']>): TemplateHeader {
  if (header.type === 'text') return { type: 'text', text: header.text! };
  return { type: header.type, link: header.link!, ...(header.filename !== undefined ? { filename: header.filename } : {}) };
}
