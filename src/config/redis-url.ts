/**
 * Celery's Redis broker URLs (celery-protocol.md §2.8) → a connection spec → ioredis options.
 * Parsing follows kombu (Python's urlsplit semantics: user info up to the last '@', the path is
 * the DB number, sentinels separated by ';', only the first URL's DB and credentials count), but
 * refuses what kombu would silently misread, with an error that names the URL with its password
 * masked. Errors never carry the raw URL, not even as a `cause`.
 */
import type { RedisOptions } from 'ioredis';
import type { TransportOptionsInput } from './options-schema.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { SSL_OPTIONS, certReqsOf, checkHostnameOf, decode, maskUrl, splitScheme, splitUrlParts, urlError } from './url-parts.js';

// Kept importable from here: many modules mask URLs through this module.
export { maskUrl } from './url-parts.js';

type TransportOptions = Pick<
  TransportOptionsInput,
  'masterName' | 'sentinelKwargs' | 'socketTimeout' | 'socketConnectTimeout' | 'socketKeepalive' | 'clientName'
>;

export interface RedisTls {
  /** `ssl_cert_reqs`: `none` skips verification (kombu's default when no ssl_* option is given). */
  readonly certReqs: 'required' | 'optional' | 'none';
  readonly caCerts?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** `ssl_check_hostname`; tsbeat checks the host name whenever it verifies, unless told not to. */
  readonly checkHostname: boolean;
}

export type RedisEndpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly tls: RedisTls | undefined }
  | { readonly kind: 'socket'; readonly path: string }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly { readonly host: string; readonly port: number }[];
      readonly masterName: string;
    }
  /**
   * A Redis Cluster (`redis-cluster://`, `rediss-cluster://`, RedBeat's scheme): the seed nodes to
   * ask for the slot map; the client then talks to whichever master serves a key's slot.
   */
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly tls: RedisTls | undefined;
    };

export interface RedisConnectionSpec {
  readonly endpoint: RedisEndpoint;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number;
  /** The URL with its passwords masked: the only form of it that may be logged. */
  readonly display: string;
  /** Things an operator should hear about (e.g. TLS without verification). */
  readonly warnings: readonly string[];
}

interface UrlParts {
  readonly scheme: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  readonly path: string;
  readonly query: ReadonlyMap<string, string>;
}

/** kombu's `url_to_parts` (see url-parts.ts), with the port checked and the pieces %-decoded. */
function splitUrl(full: string, part: string): UrlParts {
  const scheme = splitScheme(part);
  if (!scheme) throw urlError(full, 'expected scheme://host[:port][/db], e.g. redis://127.0.0.1:6379/0');
  const { user, password: pass, host, port: portText, path, query } = splitUrlParts(scheme.rest, (problem) => urlError(full, problem));
  let port: number | undefined;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
      throw urlError(full, `the port must be a number from 0 to 65535, not "${portText}"`);
    port = Number(portText);
  }
  return {
    scheme: scheme.name,
    username: user === undefined || user === '' ? undefined : decode(full, user, 'user name'),
    password: pass === undefined || pass === '' ? undefined : decode(full, pass, 'password'),
    host: decode(full, host, 'host'),
    port,
    path: decode(full, path, 'path'),
    query,
  };
}

/** kombu's `_prepare_virtual_host`: '', '/' → 0; otherwise an integer. */
function parseDb(full: string, text: string, where: string): number {
  const t = text.startsWith('/') ? text.slice(1) : text;
  if (t === '') return 0;
  if (!/^\d+$/.test(t)) throw urlError(full, `${where} must be a database number such as /0, not "${t}"`);
  return Number(t);
}

function refuseQuery(full: string, query: ReadonlyMap<string, string>, allowed: readonly string[], hint: string): void {
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw urlError(full, `unknown query option "${key}"; ${allowed.length === 0 ? hint : `allowed: ${allowed.join(', ')}`}`);
    }
  }
}

function parseTls(full: string, query: ReadonlyMap<string, string>, warnings: string[]): RedisTls {
  const reqsText = query.get('ssl_cert_reqs');
  const given = SSL_OPTIONS.some((k) => query.has(k));
  // kombu: no ssl_* option at all → CERT_NONE with a warning; some but no cert_reqs → redis-py's 'required'.
  const certReqs: RedisTls['certReqs'] = reqsText !== undefined ? certReqsOf(full, reqsText) : given ? 'required' : 'none';
  if (certReqs === 'none') {
    warnings.push(
      'TLS without certificate verification (as kombu does for rediss:// without ssl_cert_reqs); add ?ssl_cert_reqs=required&ssl_ca_certs=/path/to/ca.pem to verify the server',
    );
  }
  const checkHostname = checkHostnameOf(full, query);
  const file = (key: string): { [k: string]: string } => {
    const v = query.get(key);
    return v === undefined || v === '' ? {} : { [key]: v };
  };
  const files = { ...file('ssl_ca_certs'), ...file('ssl_certfile'), ...file('ssl_keyfile') };
  return {
    certReqs,
    ...(files['ssl_ca_certs'] !== undefined ? { caCerts: files['ssl_ca_certs'] } : {}),
    ...(files['ssl_certfile'] !== undefined ? { certFile: files['ssl_certfile'] } : {}),
    ...(files['ssl_keyfile'] !== undefined ? { keyFile: files['ssl_keyfile'] } : {}),
    checkHostname,
  };
}

function parseSentinel(url: string, parts: readonly string[], transport: TransportOptions): RedisConnectionSpec {
  const masterName = transport.masterName;
  if (masterName === undefined || masterName === '') {
    throw urlError(
      url,
      "a sentinel:// URL needs broker.transportOptions.masterName, the name of the monitored master (Celery's master_name)",
    );
  }
  const split = parts.map((part) => splitUrl(url, part));
  const first = split[0] as UrlParts;
  const db = parseDb(url, first.path, 'the path');
  for (const p of split) {
    if (p.scheme !== 'sentinel') throw urlError(url, `every URL of a sentinel list must start with sentinel://, not ${p.scheme}://`);
    if (p.host === '') throw urlError(url, 'each sentinel:// URL needs a host');
    refuseQuery(url, p.query, [], 'sentinel:// URLs take no query options (TLS through sentinels is not supported yet)');
    // kombu reads the DB and credentials from the first URL only; differing ones elsewhere would
    // make tsbeat and the workers disagree about where messages go.
    if (p !== first) {
      if (p.path !== '' && p.path !== '/' && parseDb(url, p.path, 'the path') !== db) {
        throw urlError(
          url,
          'kombu takes the database number from the first sentinel URL only; put the same /db on every URL, or only on the first',
        );
      }
      if ((p.username !== undefined && p.username !== first.username) || (p.password !== undefined && p.password !== first.password)) {
        throw urlError(
          url,
          'kombu takes the user and password from the first sentinel URL only; give them there (or the same on every URL)',
        );
      }
    }
  }
  return {
    endpoint: { kind: 'sentinel', sentinels: split.map((p) => ({ host: p.host, port: p.port ?? 26379 })), masterName },
    username: first.username,
    password: first.password,
    db,
    display: maskUrl(url),
    warnings: [],
  };
}

/** Whether `url` names a Redis Cluster (`redis-cluster://`, `rediss-cluster://`). */
export function isClusterUrl(url: string): boolean {
  return /^rediss?-cluster:\/\//i.test(url.trim());
}

/**
 * `redis-cluster://[user:password@]host:port[,host:port…][/0][?ssl_…]` (TLS with `rediss-cluster://`):
 * the seed nodes separated by commas, the credentials and options once, for every node. A cluster
 * has DB 0 only.
 */
function parseCluster(url: string, scheme: string): RedisConnectionSpec {
  const rest = url.slice(url.indexOf('://') + 3);
  const end = rest.search(/[/?#]/);
  const netloc = end === -1 ? rest : rest.slice(0, end);
  const at = netloc.lastIndexOf('@');
  const info = at === -1 ? '' : netloc.slice(0, at + 1);
  const hosts = netloc
    .slice(at + 1)
    .split(',')
    .map((h) => h.trim());
  if (hosts.some((h) => h === ''))
    throw urlError(url, `a cluster URL needs its nodes as host:port separated by commas, e.g. ${scheme}://10.0.0.1:6379,10.0.0.2:6379`);
  const tail = end === -1 ? '' : rest.slice(end);
  // The first node carries the credentials, the path and the query; the others only their address.
  const first = splitUrl(url, `${scheme}://${info}${hosts[0] ?? ''}${tail}`);
  const nodes = hosts.map((h) => {
    const p = splitUrl(url, `${scheme}://${h}`);
    return { host: p.host || '127.0.0.1', port: p.port ?? 6379 };
  });
  if (parseDb(url, first.path, 'the path') !== 0) throw urlError(url, 'a Redis Cluster has database 0 only: remove the /db from the URL');
  const warnings: string[] = [];
  let tls: RedisTls | undefined;
  if (scheme === 'rediss-cluster') {
    refuseQuery(url, first.query, SSL_OPTIONS, '');
    tls = parseTls(url, first.query, warnings);
  } else refuseQuery(url, first.query, [], 'ssl_* options need rediss-cluster://');
  return {
    endpoint: { kind: 'cluster', nodes, tls },
    username: first.username,
    password: first.password,
    db: 0,
    display: maskUrl(url),
    warnings,
  };
}

/** Parses a broker URL. Throws a `BeatError` with code `BROKER_URL` naming the (masked) URL. */
export function parseRedisUrl(url: string, transport: TransportOptions = {}): RedisConnectionSpec {
  const parts = url
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const first = parts[0];
  if (first === undefined) throw new BeatError(ErrorCode.BrokerUrl, 'broker URL is empty; expected e.g. redis://127.0.0.1:6379/0');
  const scheme = splitScheme(first)?.name;
  if (scheme === 'sentinel') return parseSentinel(url, parts, transport);
  if (parts.length === 1 && (scheme === 'redis-cluster' || scheme === 'rediss-cluster')) return parseCluster(first, scheme);
  if (parts.length > 1) throw urlError(url, "lists of URLs separated by ';' are supported for sentinel:// only");
  const p = splitUrl(url, first);
  const warnings: string[] = [];
  const common = { username: p.username, password: p.password, display: maskUrl(url), warnings };
  switch (p.scheme) {
    case 'redis':
      refuseQuery(url, p.query, [], 'ssl_* options need rediss://');
      return {
        ...common,
        endpoint: { kind: 'tcp', host: p.host || '127.0.0.1', port: p.port ?? 6379, tls: undefined },
        db: parseDb(url, p.path, 'the path'),
      };
    case 'rediss': {
      refuseQuery(url, p.query, SSL_OPTIONS, '');
      const tls = parseTls(url, p.query, warnings);
      return {
        ...common,
        endpoint: { kind: 'tcp', host: p.host || '127.0.0.1', port: p.port ?? 6379, tls },
        db: parseDb(url, p.path, 'the path'),
      };
    }
    case 'redis+socket': {
      // kombu: the path is the socket; the DB comes from ?virtual_host=.
      refuseQuery(url, p.query, ['virtual_host'], '');
      if (p.host !== '') throw urlError(url, `a socket URL has no host ("${p.host}"); write redis+socket:///path/to/redis.sock`);
      if (p.path === '' || p.path === '/')
        throw urlError(url, 'a socket URL needs the socket path, e.g. redis+socket:///run/redis/redis.sock');
      return { ...common, endpoint: { kind: 'socket', path: p.path }, db: parseDb(url, p.query.get('virtual_host') ?? '', 'virtual_host') };
    }
    default:
      throw urlError(url, `unsupported scheme "${p.scheme}://"; use redis://, rediss://, redis+socket://, sentinel:// or redis-cluster://`);
  }
}

/** Node's TLS options of a rediss:// (or rediss-cluster://) URL, its files read. */
function tlsOptions(
  spec: RedisConnectionSpec,
  tls: RedisTls,
  servername: string | undefined,
  readFile: (path: string) => Buffer,
): NonNullable<RedisOptions['tls']> {
  const load = (what: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      throw new BeatError(ErrorCode.BrokerUrl, `broker URL ${spec.display}: cannot read ${what} ${path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  };
  const ca = load('ssl_ca_certs', tls.caCerts);
  const cert = load('ssl_certfile', tls.certFile);
  const key = load('ssl_keyfile', tls.keyFile);
  return {
    ...(servername !== undefined ? { servername } : {}),
    rejectUnauthorized: tls.certReqs !== 'none',
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(tls.checkHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** Turns a spec into ioredis options. `readFile` loads the TLS files (injected to keep this testable). */
export function redisClientOptions(
  spec: RedisConnectionSpec,
  transport: TransportOptions,
  readFile: (path: string) => Buffer,
): RedisOptions {
  // RESP2, as tsbeat was written and tested against: the scripts' replies (a Lua `true` is 1, not a
  // RESP3 boolean), pub/sub messages and every server tsbeat supports (Redis 5 has no RESP3) read
  // the same. ioredis 6 speaks RESP3 unless told.
  const options: RedisOptions = { db: spec.db, protocol: 2 };
  if (spec.username !== undefined) options.username = spec.username;
  if (spec.password !== undefined) options.password = spec.password;
  if (transport.clientName !== undefined) options.connectionName = transport.clientName;
  // kombu's socket_* are seconds; ioredis takes milliseconds.
  if (transport.socketConnectTimeout !== undefined) options.connectTimeout = Math.round(transport.socketConnectTimeout * 1000);
  if (transport.socketTimeout !== undefined) options.commandTimeout = Math.round(transport.socketTimeout * 1000);
  // ioredis enables keep-alive for any number (0 = the OS delay) and disables it for undefined.
  options.keepAlive = transport.socketKeepalive === false ? undefined : 0;
  const e = spec.endpoint;
  if (e.kind === 'socket') options.path = e.path;
  else if (e.kind === 'cluster') {
    // The nodes' options (Cluster's redisOptions); the seed nodes go to the Cluster itself (clusterNodes).
    // Each node is dialled by the address the cluster announces: TLS checks it against that host.
    if (e.tls !== undefined) options.tls = tlsOptions(spec, e.tls, undefined, readFile);
  } else if (e.kind === 'tcp') {
    options.host = e.host;
    options.port = e.port;
    if (e.tls !== undefined) options.tls = tlsOptions(spec, e.tls, e.host, readFile);
  } else {
    options.sentinels = e.sentinels.map((s) => ({ host: s.host, port: s.port }));
    options.name = e.masterName;
    // A failover is followed as a sentinel announces it: redis/sentinel-failover.ts.
    // Only these two are accepted by the config schema (the rest of redis-py's sentinel_kwargs has no ioredis equivalent).
    const kwargs = transport.sentinelKwargs ?? {};
    if (kwargs.password !== undefined) options.sentinelPassword = kwargs.password;
    if (kwargs.username !== undefined) options.sentinelUsername = kwargs.username;
  }
  return options;
}
