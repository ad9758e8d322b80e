export const SESSION_STATUSES = ['open', 'closed'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Who opened a session: an operator (POST /sessions), or the customer's own message. */
export const SESSION_ORIGINS = ['operator', 'inbound'] as const;
export type SessionOrigin = (typeof SESSION_ORIGINS)[number];
