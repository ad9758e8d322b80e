import type { Refusal, RefusalCode } from '../domain/refusal.js';
import { ProblemError } from './problem.js';

/** The HTTP status of every refusal code: the one place where domain refusals meet HTTP. */
const STATUS: Record<RefusalCode, number> = {
  validation_failed: 400,
  invalid_signature: 401,
  invalid_webhook_secret: 401,
  invalid_inbound_secret: 401,
  operator_not_assigned: 403,
  verification_failed: 403,
  live_chat_not_found: 404,
  contact_not_found: 404,
  session_not_found: 404,
  batch_not_found: 404,
  api_key_not_found: 404,
  event_subscription_not_found: 404,
  session_already_open: 409,
  session_not_open: 409,
  account_required: 422,
  account_channel_mismatch: 422,
  template_not_supported: 422,
  subject_not_supported: 422,
  telegram_no_prior_contact: 422,
  whatsapp_template_required: 422,
  channel_type_immutable: 422,
  smtp_password_required: 422,
  public_base_url_required: 422,
  provider_error: 502,
  secrets_unreadable: 503,
  webhook_url_not_allowed: 422,
  template_not_found: 422,
  template_not_approved: 422,
  template_parameters_mismatch: 422,
  contact_opted_out: 422,
  business_account_required: 422,
};

/** Headers a refusal carries on the wire: a 401 names how to authenticate (RFC 9110). */
const HEADERS: Partial<Record<RefusalCode, Record<string, string>>> = {
  invalid_signature: { 'WWW-Authenticate': 'HMAC-SHA256 header="X-Hub-Signature-256"' },
  invalid_webhook_secret: { 'WWW-Authenticate': 'Secret-Token header="X-Telegram-Bot-Api-Secret-Token"' },
  invalid_inbound_secret: { 'WWW-Authenticate': 'Bearer' },
};

export function statusOfRefusal(code: RefusalCode): number {
  return STATUS[code];
}

/** The problem+json answer for a refusal. */
export function problemOfRefusal(refusal: Refusal): ProblemError {
  return new ProblemError(STATUS[refusal.code], refusal.code, refusal.message, refusal.extensions, HEADERS[refusal.code] ?? {});
}
