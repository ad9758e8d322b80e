/** A session batch runs until nothing is pending any more: then it is done, or canceled. */
export const BATCH_STATUSES = ['running', 'done', 'canceled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** What became of one recipient of a batch. */
export const RECIPIENT_OUTCOMES = ['pending', 'created', 'refused', 'canceled'] as const;
export type RecipientOutcome = (typeof RECIPIENT_OUTCOMES)[number];

/** A recipient's refusal: the status and code POST /sessions would have answered. */
export interface RecipientError {
  status: number;
  code: string;
  detail: string;
  existingSessionId?: string;
}
