import { isIP } from 'node:net';

/**
 * Only for development and tests: anyone can read it here, so production refuses to start
 * without SECRETS_KEY, and a development start says in its log that this key is in use.
 */
export const DEVELOPMENT_SECRETS_KEY = Buffer.alloc(32, 'development-only-secrets-key!!!!');

// The names proxy-addr (Fastify's trustProxy) knows for address ranges.
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as Fastify's trustProxy: unset or `false` trusts no proxy, `true` every hop, a
 * number that many hops, else a comma-separated list of addresses, CIDR ranges or range names.
 * Returns an Error (its message completes "TRUST_PROXY …") for anything else, so that start-up
 * names the variable instead of failing later inside the framework.
 */
export function parseTrustProxy(value: string | undefined): boolean | number | string[] | Error {
  const text = value?.trim() ?? '';
  if (text === '' || text === 'false') return false;
  if (text === 'true') return true;
  if (/^\d+$/.test(text)) return Number(text);
  const entries = text.split(',').map((e) => e.trim());
  const bad = entries.find((entry) => !isAddressOrRange(entry));
  if (bad !== undefined) return new Error(`must be true, false, a number of hops, or addresses and CIDR ranges separated by commas (not "${bad.slice(0, 60)}")`);
  return entries;
}

function isAddressOrRange(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix, extra] = entry.split('/');
  if (extra !== undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}
