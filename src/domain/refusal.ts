/** One field-level validation failure; `field` is a JSON Pointer into the body or query. */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/**
 * Every refusal code a service raises. The HTTP layer maps each to its status in one table
 * (`src/http/refusal-status.ts`), so a code added here without a status does not compile.
 */
export type RefusalCode =
  | 'validation_failed'
  | 'invalid_signature'
  | 'invalid_webhook_secret'
  | 'invalid_inbound_secret'
  | 'operator_not_assigned'
  | 'verification_failed'
  | 'live_chat_not_found'
  | 'contact_not_found'
  | 'session_not_found'
  | 'batch_not_found'
  | 'api_key_not_found'
  | 'event_subscription_not_found'
  | 'session_already_open'
  | 'session_not_open'
  | 'account_required'
  | 'account_channel_mismatch'
  | 'template_not_supported'
  | 'subject_not_supported'
  | 'telegram_no_prior_contact'
  | 'whatsapp_template_required'
  | 'channel_type_immutable'
  | 'smtp_password_required'
  | 'public_base_url_required'
  | 'provider_error'
  | 'secrets_unreadable'
  | 'webhook_url_not_allowed'
  | 'template_not_found'
  | 'template_not_approved'
  | 'template_parameters_mismatch'
  | 'contact_opted_out'
  | 'business_account_required';

/**
 * A request refused by a business rule or an input check, with the contract's stable code.
 * Services throw it and know nothing of HTTP; `extensions` are members of the answer the
 * caller branches on (`existingSessionId`, `errors`).
 */
export class Refusal extends Error {
  override name = 'Refusal';

  constructor(
    readonly code: RefusalCode,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/** Check 1 of the contract: input that is malformed, field by field. */
export function validationFailed(errors: FieldError[]): Refusal {
  const detail = errors.length === 1 ? errors[0]!.message : `${errors.length} fields are invalid.`;
  return new Refusal('validation_failed', detail, { errors });
}
