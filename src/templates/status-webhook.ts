import type { TemplateStatusUpdate } from './service.js';

/** A WhatsApp notification as far as template status changes are read from it. */
export interface TemplateStatusNotification {
  entry: { id?: string | undefined; changes: { field: string; value: object }[] }[];
}

/**
 * The `message_template_status_update` changes of a notification: the template's name,
 * language and new status (`event`), and the business account (`entry.id`) they belong to.
 */
export function templateStatusUpdatesOf(notification: TemplateStatusNotification): TemplateStatusUpdate[] {
  const updates: TemplateStatusUpdate[] = [];
  for (const entry of notification.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'message_template_status_update') continue;
      const value = change.value as Record<string, unknown>;
      const name = value.message_template_name;
      const event = value.event;
      if (typeof name !== 'string' || typeof event !== 'string' || name === '' || event === '') continue;
      const language = value.message_template_language;
      updates.push({ businessAccountId: entry.id ?? null, name, language: typeof language === 'string' && language !== '' ? language : null, status: event.toUpperCase() });
    }
  }
  return updates;
}
