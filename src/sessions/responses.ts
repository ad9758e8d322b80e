import type { Message, Session } from './model.js';

/** A session as the API answers it. */
export function sessionResponse(s: Session) {
  return {
    ...s,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    closedAt: s.closedAt ? s.closedAt.toISOString() : null,
  };
}

/** A message as the API answers it. */
export function messageResponse(m: Message) {
  return { ...m, createdAt: m.createdAt.toISOString(), updatedAt: m.updatedAt.toISOString() };
}
