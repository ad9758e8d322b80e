import type { InboundConsent } from '../consent/inbound.js';
import type { TemplateService } from '../templates/service.js';

/** What the webhooks hand on to other modules: consent said in messages, template status changes. */
export interface InboundHooks {
  consent: Pick<InboundConsent, 'fromMessage' | 'fromChatMember'>;
  templates: Pick<TemplateService, 'applyStatusWebhook'>;
}
