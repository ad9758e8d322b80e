import type { SecretBox } from '../live-chats/secret-box.js';

/** After a rotation the previous secret keeps signing this long, so receivers can switch over. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60_000;

/** A subscription's secrets as sealed at rest. */
interface Secrets {
  current: string;
  previous?: string;
}

export function sealSecrets(box: SecretBox, secrets: Secrets): string {
  return box.seal(secrets.previous ? { current: secrets.current, previous: secrets.previous } : { current: secrets.current });
}

/** The current secret of a sealed pair (throws when SECRETS_KEY cannot open it). */
export function currentSecret(box: SecretBox, sealed: string): string {
  const { current } = box.open(sealed);
  if (!current) throw new Error('Sealed subscription secrets lack the current secret');
  return current;
}

/** The secrets that sign at `now`: the current one, and the previous one until its overlap ends. */
export function signingSecrets(box: SecretBox, sealed: string, previousExpiresAt: Date | null, now: Date): string[] {
  const { current, previous } = box.open(sealed);
  if (!current) throw new Error('Sealed subscription secrets lack the current secret');
  return previous && previousExpiresAt && previousExpiresAt.getTime() > now.getTime() ? [current, previous] : [current];
}
