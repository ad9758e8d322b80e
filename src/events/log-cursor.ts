import { invalidCursor } from '../http/cursor.js';
import type { LogPosition } from './log-repository.js';

const FORM = /^e1:(\d{1,20}):(\d{1,16})$/;
const MAX_XID = 2n ** 64n - 1n;

/** The opaque cursor of a place in the event log. */
export function encodeLogCursor(position: LogPosition): string {
  return Buffer.from(`e1:${position.xid}:${position.position}`).toString('base64url');
}

/** Decodes a log cursor; a forged or damaged one is a 400 on `/cursor`. */
export function decodeLogCursor(value: string): LogPosition {
  const match = FORM.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (match && BigInt(match[1]!) <= MAX_XID && Number.isSafeInteger(Number(match[2]))) {
    return { xid: BigInt(match[1]!).toString(), position: Number(match[2]) };
  }
  throw invalidCursor();
}
