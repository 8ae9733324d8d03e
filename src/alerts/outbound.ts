/**
 * Where alerts may go. The config file's URLs (its `alerts` and its own entries') are the
 * operator's and trusted. Any other URL came with a runtime entry (the API, the dashboard, a
 * client, RedBeat, Django) and may reach only hosts `alerts.allowedHosts` names or, without that
 * list, hosts whose every address is public: never loopback, private, link-local (the cloud
 * metadata service), shared or unspecified addresses. The address is checked when the connection
 * is made, on what the name resolves to then (a name that resolved to a public address at write
 * time and to 127.0.0.1 now is refused), and such a request follows no redirect.
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { Delivery } from '../ports/alerts.js';
import { pingUrl } from './alert-rules.js';
import type { Send } from './deliverer.js';

/** A delivery the outbound policy refuses: dropped at once, never retried. */
export class OutboundRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** Whether `address` (an IP) is one an untrusted URL may reach: not loopback, private, link-local, shared, multicast or unspecified. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return !NOT_PUBLIC.check(mapped[1]!, 'ipv4');
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether `host` is one of `allowed`: a name (`hooks.example.com`), a `*.example.com` for its subdomains, or an address. */
export function hostListed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allowed.some((a) => {
    const pattern = a.toLowerCase();
    return pattern.startsWith('*.') ? h.endsWith(pattern.slice(1)) : h === pattern;
  });
}

export interface OutboundPolicy {
  /** The config file's own alert URLs now (its `alerts` and its entries'); they go anywhere. */
  trustedUrls(): ReadonlySet<string>;
  /** `alerts.allowedHosts`; undefined: any host whose addresses are all public. */
  allowedHosts(): readonly string[] | undefined;
}

/** The config's URLs as deliveries name them: each webhook, and each ping with its /start and /fail. */
export function trustedAlertUrls(
  configAlerts: { readonly webhook?: string | undefined } | undefined,
  fileEntries: readonly { readonly alerts?: { readonly webhook?: string | undefined; readonly ping?: string | undefined } | undefined }[],
): Set<string> {
  const urls = new Set<string>();
  if (configAlerts?.webhook !== undefined) urls.add(configAlerts.webhook);
  for (const entry of fileEntries) {
    if (entry.alerts?.webhook !== undefined) urls.add(entry.alerts.webhook);
    const ping = entry.alerts?.ping;
    if (ping !== undefined) for (const suffix of ['', '/start', '/fail'] as const) urls.add(pingUrl(ping, suffix));
  }
  return urls;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that fails when the name resolves to an address the policy refuses. */
function guardedLookup(host: string, listed: boolean): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = listed ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (refused !== undefined) {
        return callback(
          new OutboundRefused(
            `${host} resolves to ${refused.address}, which is not a public address: an alert URL of a runtime entry may reach only public hosts or those of alerts.allowedHosts`,
          ),
          [],
        );
      }
      if (options.all === true) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** POSTs one delivery to an untrusted URL under the policy: the address checked as it connects, no redirects. */
function guardedPost(delivery: Delivery, timeoutMs: number, listed: boolean): Promise<number> {
  const url = new URL(delivery.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !listed && !isPublicAddress(host)) {
    return Promise.reject(
      new OutboundRefused(
        `${host} is not a public address: an alert URL of a runtime entry may reach only public hosts or those of alerts.allowedHosts`,
      ),
    );
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': delivery.contentType, 'idempotency-key': delivery.id, 'user-agent': 'tsbeat' },
        lookup: guardedLookup(host, listed),
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(delivery.body);
  });
}

/** A Send that sends trusted URLs with `trustedSend` and every other one under the policy. */
export function policySend(policy: OutboundPolicy, trustedSend: Send): Send {
  return async (delivery, timeoutMs) => {
    if (policy.trustedUrls().has(delivery.url)) return trustedSend(delivery, timeoutMs);
    const allowed = policy.allowedHosts();
    const host = new URL(delivery.url).hostname;
    if (allowed !== undefined && !hostListed(host, allowed)) {
      throw new OutboundRefused(
        `${host} is not in alerts.allowedHosts (${allowed.join(', ')}): an alert URL of a runtime entry may reach only those`,
      );
    }
    return guardedPost(delivery, timeoutMs, allowed !== undefined);
  };
}
