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
  return openSecrets(box, sealed).current;
}

const CACHED_SUBSCRIPTIONS = 1_000;

/**
 * The secrets that sign at `now` — the current one, and the previous one until its overlap
 * ends — for a worker that signs many webhooks of few subscriptions: each sealed value is
 * opened once (a sealed value names its secrets for good; a rotation seals anew). Holds at most
 * 1,000 opened values, in memory only; throws when SECRETS_KEY cannot open one.
 */
export function signingSecretsCache(box: SecretBox): (sealed: string, previousExpiresAt: Date | null, now: Date) => string[] {
  const opened = new Map<string, Secrets>();
  return (sealed, previousExpiresAt, now) => {
    let secrets = opened.get(sealed);
    if (!secrets) {
      secrets = openSecrets(box, sealed);
      if (opened.size >= CACHED_SUBSCRIPTIONS) opened.clear();
      opened.set(sealed, secrets);
    }
    return signingOf(secrets, previousExpiresAt, now);
  };
}

function openSecrets(box: SecretBox, sealed: string): Secrets {
  const { current, previous } = box.open(sealed);
  if (!current) throw new Error('Sealed subscription secrets lack the current secret');
  return previous ? { current, previous } : { current };
}

function signingOf({ current, previous }: Secrets, previousExpiresAt: Date | null, now: Date): string[] {
  return previous && previousExpiresAt && previousExpiresAt.getTime() > now.getTime() ? [current, previous] : [current];
}
