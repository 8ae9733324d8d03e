/**
 * One broker URL cut into its pieces, shared by the Redis and the AMQP URL parsers.
 *
 * Why one place: a Celery user copies `broker_url` over unchanged, so both transports must read
 * it as kombu does (`url_to_parts`, i.e. Python's `urlsplit` on `http://` + what follows
 * `scheme://`): the user info runs up to the LAST '@' of the host part (a raw '@' in a password
 * works), the user name ends at the FIRST ':', an IPv6 host is written in brackets, and for a
 * repeated query key the last value wins (`dict(parse_qsl(...))`). Two copies of these rules
 * would drift apart.
 *
 * Pure and unopinionated: the pieces come back as written (still %-encoded, the port unchecked);
 * which schemes are allowed, the defaults, the port range, what the path means (vhost or DB
 * number) and which query options are taken stay with each transport, as does the order in which
 * they check them (it decides which error a bad URL gets). The one error raised here is built by
 * the caller's `fail`, which masks the URL; no error may carry a piece of a password.
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { maskUrl } from '../base/redact.js';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

export interface UrlScheme {
  /** `scheme://` as written. */
  readonly prefix: string;
  /** The scheme, lower-cased. */
  readonly name: string;
  /** All that follows `scheme://`. */
  readonly rest: string;
}

/** Splits `scheme://` off a URL; undefined when it does not start with one. */
export function splitScheme(url: string): UrlScheme | undefined {
  const match = SCHEME.exec(url);
  if (!match) return undefined;
  return { prefix: match[0], name: (match[1] ?? '').toLowerCase(), rest: url.slice(match[0].length) };
}

export interface RawUrlParts {
  /** Up to the first ':' of the user info; undefined without user info (no '@'). Still %-encoded. */
  readonly user: string | undefined;
  /** After the first ':' of the user info; undefined without one. Still %-encoded. */
  readonly password: string | undefined;
  /** Without the brackets of an IPv6 address; '' when absent. Still %-encoded. */
  readonly host: string;
  /** The text after the host's ':', unchecked; undefined without a ':'. */
  readonly port: string | undefined;
  /** From the first '/' to the query or fragment; '' when absent. Still %-encoded. */
  readonly path: string;
  /** The query, decoded; the last value of a repeated key wins. */
  readonly query: ReadonlyMap<string, string>;
}

/**
 * Cuts `rest` (what follows `scheme://`) into user, password, host, port, path and query.
 * Refuses, through `fail`, an '@' after the host part: Python would cut the password at the '/',
 * '?' or '#' and read the rest of it as host, port or path, and saying which of those is wrong
 * would print a piece of the password.
 */
export function splitUrlParts(rest: string, fail: (problem: string) => Error): RawUrlParts {
  const end = rest.search(/[/?#]/);
  const netloc = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  if (rest.lastIndexOf('@') > netloc.length) {
    throw fail("an '@' follows the host part: percent-encode '/', '?' and '#' in the user name and password (%2F, %3F, %23)");
  }
  const at = netloc.lastIndexOf('@');
  const info = at === -1 ? undefined : netloc.slice(0, at);
  const hostPort = at === -1 ? netloc : netloc.slice(at + 1);
  const colon = info?.indexOf(':') ?? -1;
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
  let host = hp?.[1] ?? '';
  if (host.startsWith('[')) host = host.slice(1, -1);
  const qAt = tail.indexOf('?');
  const hashAt = tail.indexOf('#');
  const queryText = qAt === -1 ? '' : tail.slice(qAt + 1, hashAt > qAt ? hashAt : undefined);
  const query = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(queryText)) query.set(k, v);
  return {
    user: info === undefined ? undefined : colon === -1 ? info : info.slice(0, colon),
    password: info === undefined || colon === -1 ? undefined : info.slice(colon + 1),
    host,
    port: hp?.[2],
    path: tail.slice(0, qAt === -1 ? (hashAt === -1 ? undefined : hashAt) : qAt),
    query,
  };
}

// One masking rule for every URL tsbeat prints (src/base/redact.ts); kept importable from here.
export { maskUrl } from '../base/redact.js';

/**
 * A BROKER_URL error naming the URL with its passwords masked: never the raw URL. The config
 * check reports `display` and `problem` under the setting the URL came from (`lock.urls[0]`, …).
 */
export class UrlError extends BeatError {
  /** The URL, its passwords masked. */
  readonly display: string;
  readonly problem: string;
  constructor(display: string, problem: string) {
    super(ErrorCode.BrokerUrl, `broker URL ${display}: ${problem}`);
    this.name = 'UrlError';
    this.display = display;
    this.problem = problem;
  }
}

export function urlError(url: string, problem: string): UrlError {
  return new UrlError(maskUrl(url), problem);
}

/** A Redis Cluster's URL schemes (RedBeat's spelling): the nodes to learn the slot map from. */
export const REDIS_CLUSTER_SCHEMES: readonly string[] = ['redis-cluster', 'rediss-cluster'];
/** The schemes the Redis URL parser takes (the broker kinds are in broker-kinds.ts). */
export const REDIS_SCHEMES: readonly string[] = ['redis', 'rediss', 'redis+socket', 'sentinel', ...REDIS_CLUSTER_SCHEMES];
/** kombu maps amqp and pyamqp to its pyamqp transport, amqps to its TLS variant. */
export const AMQP_SCHEMES: Readonly<Record<string, { readonly tls: boolean }>> = {
  amqp: { tls: false },
  pyamqp: { tls: false },
  amqps: { tls: true },
};

/** Whether `url` is a Redis URL (by the scheme of its first URL). */
export function isRedisUrl(url: string): boolean {
  const scheme = splitScheme(url.trim())?.name;
  return scheme !== undefined && REDIS_SCHEMES.includes(scheme);
}

/** %-decodes one piece of a URL; a malformed escape is named by what it is, never by its text. */
export function decode(url: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw urlError(url, `the ${what} has a malformed %-escape`);
  }
}

/** kombu's TLS query options, shared by rediss:// and amqps://. */
export const SSL_OPTIONS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_check_hostname'] as const;

/** `ssl_cert_reqs` values, as kombu (and Python's ssl.CERT_* names) spell them. */
const CERT_REQS: Readonly<Record<string, 'required' | 'optional' | 'none'>> = {
  required: 'required',
  CERT_REQUIRED: 'required',
  optional: 'optional',
  CERT_OPTIONAL: 'optional',
  none: 'none',
  CERT_NONE: 'none',
};

/** A given `ssl_cert_reqs` (either spelling), or the error that names the values it takes. */
export function certReqsOf(full: string, text: string): 'required' | 'optional' | 'none' {
  const mapped = CERT_REQS[text];
  if (mapped === undefined)
    throw urlError(full, `ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE), not "${text}"`);
  return mapped;
}

/** `ssl_check_hostname` as a boolean (true when not given), as kombu reads it. */
export function checkHostnameOf(full: string, query: ReadonlyMap<string, string>): boolean {
  const text = query.get('ssl_check_hostname');
  if (text === undefined) return true;
  const t = text.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw urlError(full, `ssl_check_hostname must be true or false, not "${text}"`);
}
