/**
 * Celery's AMQP broker URLs → connection specs → amqplib's connect options.
 *
 * Parsing follows kombu (`url_to_parts` + the pyamqp transport's defaults), because a Celery user
 * copies `broker_url` over unchanged and must reach the same vhost as the workers:
 * - `amqp://`, `pyamqp://` (plain) and `amqps://` (TLS); several URLs separated by ';' are
 *   failover hosts, tried in turn (kombu's round-robin failover);
 * - the vhost is the path with ONE leading '/' removed, then %-decoded: `//` and `/%2F` are the
 *   vhost "/", `/prod` is "prod", no path or `/` is the default "/". (The RabbitMQ URI spec reads
 *   `//` differently; kombu's reading is the one Celery configs are written for.)
 * - a missing user or password is "guest" (each on its own, as kombu fills them in);
 * - host "localhost" is dialled as 127.0.0.1, as kombu does (TLS still checks the name "localhost").
 * Errors name the URL with its passwords masked and never carry the raw URL.
 */
import type { ConnectionOptions } from 'node:tls';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import {
  AMQP_SCHEMES,
  SSL_OPTIONS,
  certReqsOf,
  checkHostnameOf,
  decode,
  maskUrl,
  splitScheme,
  splitUrlParts,
  urlError,
} from './url-parts.js';

export interface AmqpTls {
  /** `ssl_cert_reqs`: `none` skips verification; `optional` verifies (a server always presents a certificate). */
  readonly certReqs: 'required' | 'optional' | 'none';
  readonly caCerts?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly checkHostname: boolean;
}

export interface AmqpEndpoint {
  /** The host as written (TLS checks this name). */
  readonly host: string;
  /** The address dialled: the host, or 127.0.0.1 for "localhost" (kombu). */
  readonly dialHost: string;
  readonly port: number;
  readonly tls: AmqpTls | undefined;
  readonly username: string;
  readonly password: string;
  readonly vhost: string;
  readonly heartbeatS: number;
  readonly connectTimeoutMs: number;
  /** This URL, its password masked. */
  readonly display: string;
}

export interface AmqpConnectionSpec {
  /** One per ';'-separated URL, in order; reconnects rotate through them. */
  readonly endpoints: readonly AmqpEndpoint[];
  /** The whole URL with its passwords masked: the only form of it that may be logged. */
  readonly display: string;
  /** Things an operator should hear about (e.g. TLS without verification). */
  readonly warnings: readonly string[];
}

const OPTIONS = ['heartbeat', 'connect_timeout'] as const;

function seconds(url: string, key: string, text: string, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min)
    throw urlError(url, `${key} must be a number of seconds${min > 0 ? ' above 0' : ''}, not "${text}"`);
  return value;
}

function parseTls(full: string, query: ReadonlyMap<string, string>, warnings: string[]): AmqpTls {
  const reqsText = query.get('ssl_cert_reqs');
  const certReqs: AmqpTls['certReqs'] = reqsText === undefined ? 'required' : certReqsOf(full, reqsText);
  if (certReqs === 'none')
    warnings.push(
      'TLS without certificate verification (ssl_cert_reqs=none): anyone on the path can read and alter the messages; add ?ssl_ca_certs=/path/to/ca.pem and drop ssl_cert_reqs=none',
    );
  const checkHostname = checkHostnameOf(full, query);
  const file = (key: string): string | undefined => {
    const v = query.get(key);
    return v === undefined || v === '' ? undefined : v;
  };
  const caCerts = file('ssl_ca_certs');
  const certFile = file('ssl_certfile');
  const keyFile = file('ssl_keyfile');
  return {
    certReqs,
    ...(caCerts !== undefined ? { caCerts } : {}),
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
    checkHostname,
  };
}

/** One URL of the list: kombu's `url_to_parts` (see url-parts.ts), then the pyamqp transport's defaults. */
function parseOne(full: string, part: string, warnings: string[]): AmqpEndpoint {
  const scheme = splitScheme(part);
  if (scheme === undefined || !Object.hasOwn(AMQP_SCHEMES, scheme.name)) {
    throw urlError(
      full,
      `every URL of the list must start with amqp://, amqps:// or pyamqp://${scheme === undefined ? '' : `, not ${scheme.name}://`}`,
    );
  }
  const tls = AMQP_SCHEMES[scheme.name]?.tls === true;
  const {
    user,
    password: pass,
    host: rawHost,
    port: portText,
    path: rawPath,
    query,
  } = splitUrlParts(scheme.rest, (problem) => urlError(full, problem));
  const host = decode(full, rawHost, 'host');
  let port = tls ? 5671 : 5672;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535 || Number(portText) === 0)
      throw urlError(full, `the port must be a number from 1 to 65535, not "${portText}"`);
    port = Number(portText);
  }
  for (const key of query.keys()) {
    const sslKey = (SSL_OPTIONS as readonly string[]).includes(key);
    if (sslKey && !tls) throw urlError(full, `${key} needs an amqps:// URL (TLS); amqp:// connects without TLS`);
    if (!sslKey && !(OPTIONS as readonly string[]).includes(key)) {
      throw urlError(full, `unknown query option "${key}"; allowed: ${[...OPTIONS, ...(tls ? SSL_OPTIONS : [])].join(', ')}`);
    }
  }
  // kombu: one leading '/' is the separator, the rest (decoded) is the vhost; empty means the default "/".
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const vhost = decode(full, path, 'virtual host (path)') || '/';
  const heartbeat = query.get('heartbeat');
  const timeout = query.get('connect_timeout');
  const hostName = host === '' ? 'localhost' : host;
  return {
    host: hostName,
    dialHost: hostName === 'localhost' ? '127.0.0.1' : hostName,
    port,
    tls: tls ? parseTls(full, query, warnings) : undefined,
    username: user === undefined || user === '' ? 'guest' : decode(full, user, 'user name'),
    password: pass === undefined || pass === '' ? 'guest' : decode(full, pass, 'password'),
    vhost,
    heartbeatS: heartbeat === undefined ? DEFAULTS.amqpHeartbeatS : Math.round(seconds(full, 'heartbeat', heartbeat, 0)),
    connectTimeoutMs:
      timeout === undefined ? DEFAULTS.amqpConnectTimeoutMs : Math.round(seconds(full, 'connect_timeout', timeout, 0.001) * 1000),
    display: maskUrl(part),
  };
}

/** Parses an AMQP broker URL (or a ';'-separated failover list). Throws a `BeatError` with code `BROKER_URL`. */
export function parseAmqpUrl(url: string): AmqpConnectionSpec {
  const parts = url
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0)
    throw new BeatError(ErrorCode.BrokerUrl, 'broker URL is empty; expected e.g. amqp://guest:guest@127.0.0.1:5672//');
  const warnings: string[] = [];
  const endpoints = parts.map((part) => parseOne(url, part, warnings));
  return { endpoints, display: maskUrl(url), warnings: [...new Set(warnings)] };
}

/** amqplib's two option objects for one endpoint. */
export interface AmqpConnectOptions {
  readonly connect: {
    readonly protocol: 'amqp' | 'amqps';
    readonly hostname: string;
    readonly port: number;
    readonly username: string;
    readonly password: string;
    readonly vhost: string;
    readonly heartbeat: number;
  };
  readonly socket: ConnectionOptions & {
    readonly timeout: number;
    readonly noDelay: boolean;
    readonly clientProperties: Record<string, unknown>;
  };
}

/**
 * The endpoint as amqplib's `connect(options, socketOptions)` takes it. `readFile` reads the TLS
 * files named in the URL (injected so that tests need no files); one that cannot be read is a
 * `BROKER_URL` error naming it.
 */
export function amqpConnectOptions(endpoint: AmqpEndpoint, readFile: (path: string) => Buffer, connectionName: string): AmqpConnectOptions {
  const tls = endpoint.tls;
  const read = (option: string, path: string): Buffer => {
    try {
      return readFile(path);
    } catch (error) {
      throw new BeatError(
        ErrorCode.BrokerUrl,
        `broker URL ${endpoint.display}: cannot read the ${option} file ${JSON.stringify(path)}: ${errorMessage(error)}`,
      );
    }
  };
  const tlsOptions: ConnectionOptions =
    tls === undefined
      ? {}
      : {
          servername: endpoint.host,
          rejectUnauthorized: tls.certReqs !== 'none',
          ...(tls.checkHostname ? {} : { checkServerIdentity: () => undefined }),
          ...(tls.caCerts !== undefined ? { ca: read('ssl_ca_certs', tls.caCerts) } : {}),
          ...(tls.certFile !== undefined ? { cert: read('ssl_certfile', tls.certFile) } : {}),
          ...(tls.keyFile !== undefined ? { key: read('ssl_keyfile', tls.keyFile) } : {}),
        };
  return {
    connect: {
      protocol: tls === undefined ? 'amqp' : 'amqps',
      hostname: endpoint.dialHost,
      port: endpoint.port,
      username: endpoint.username,
      password: endpoint.password,
      // amqplib %-decodes the vhost once more (querystring.unescape): escape '%' so that a vhost
      // holding one, after kombu's decoding, arrives as written.
      vhost: endpoint.vhost.replaceAll('%', '%25'),
      heartbeat: endpoint.heartbeatS,
    },
    socket: {
      ...tlsOptions,
      timeout: endpoint.connectTimeoutMs,
      noDelay: true,
      // Shown by `rabbitmqctl list_connections client_properties` and the management UI.
      clientProperties: { connection_name: connectionName },
    },
  };
}
