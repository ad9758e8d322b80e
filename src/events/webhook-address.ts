import { type LookupAddress, type LookupOptions, lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Which webhook URLs may be called (EVENT_WEBHOOK_ALLOW_HTTP, EVENT_WEBHOOK_ALLOW_PRIVATE). */
export interface WebhookUrlPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/** Resolves a host name to all its addresses (node's dns.lookup with `all: true`). */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

export const resolveAll: Resolve = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

/**
 * True for an address on the public internet; false for loopback, private, link-local,
 * carrier-grade NAT, multicast, reserved and every other special range (an IPv4 address in
 * IPv6 clothing is judged as IPv4; NAT64 and 6to4 forms are refused since they embed one).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** Why the URL may not be called, or null when it may. Resolves its host to check every address. */
export async function webhookUrlProblem(url: string, policy: WebhookUrlPolicy, resolve: Resolve = resolveAll): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'The URL is not valid.';
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && policy.allowHttp)) {
    return policy.allowHttp ? 'The URL must be http:// or https://.' : 'The URL must be https://.';
  }
  if (parsed.username || parsed.password) return 'The URL must not carry credentials; put a token in its path or query instead.';
  if (policy.allowPrivate) return null;
  const host = hostOf(parsed);
  if (isIP(host)) return isPublicAddress(host) ? null : `${host} is not a public address.`;
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    return `${host} does not resolve.`;
  }
  if (addresses.length === 0) return `${host} does not resolve.`;
  return addresses.every((a) => isPublicAddress(a.address)) ? null : `${host} resolves to an address that is not public.`;
}

/** The URL's host as a name or a bare IP address (IPv6 without its brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the sockets that deliver webhooks: resolves the name, refuses it when any of its
 * addresses is not public (unless the policy allows that), and hands the socket only the
 * addresses it checked, so what is connected to is what was checked — a name that changes its
 * answer between the check and the connection (DNS rebinding) cannot slip through.
 */
export function guardedLookup(policy: WebhookUrlPolicy, resolve: Resolve = resolveAll) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname).then(
      (all) => {
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const addresses = family ? all.filter((a) => a.family === family) : all;
        if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '', 0);
        if (!policy.allowPrivate && !addresses.every((a) => isPublicAddress(a.address))) {
          return callback(Object.assign(new Error(`${hostname} resolves to an address that is not public`), { code: 'EADDRNOTALLOWED' }), '', 0);
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
