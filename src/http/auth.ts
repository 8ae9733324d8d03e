/**
 * Who may do what over HTTP, one rule for every path that shows entries (/status, /api/*, the
 * dashboard's /ui/api/ reads). Writes need a bearer token that may write (`--api-token-file`, one
 * token or `NAME:GRANTS:TOKEN` lines, or BEAT_API_TOKEN) and are refused outright when none is
 * configured. Which entries a token may change or see is decided by the operator verbs
 * (src/operations/) on the caller's grants (core/grants.ts), which this module reads and hands on.
 * Reads need a token (or the dashboard's session), except for a loopback client, or any client with
 * `--http-public-reads`, whose Host header names this server. The probes stay open: kubelets
 * scrape them from other hosts. /metrics is open too (Prometheus scrapes it from other hosts and it
 * shows no task arguments) unless `metricsNeedToken` (a deployment shared by teams): a token sent
 * to it is checked, and narrows the per-entry series to its grants' read scope.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ENV } from '../base/env.js';
import { ERROR_ANSWERS, ErrorCode } from '../base/errors.js';
import { ADMIN, VIEWER, grantsText, parseGrants, ROLES } from '../core/grants.js';
import type { Grant } from '../core/grants.js';

/** A bearer token of the API, with the name the logs (and the audit) know it by and what it may do. */
export interface ApiToken {
  readonly name: string;
  readonly token: string;
  /** Its grants (`NAME:GRANTS:TOKEN`); `NAME:TOKEN` is admin, `NAME:read:TOKEN` viewer. */
  readonly grants: readonly Grant[];
}

/** Who calls: the name the audit and the logs record, and the grants the operator verbs decide on. */
export interface Caller {
  readonly who: string;
  readonly grants: readonly Grant[];
}

/** Whether a token may change anything at all (one grant above viewer); which entries is the verbs' to decide. */
export function mayWrite(token: ApiToken): boolean {
  return token.grants.some((g) => g.role !== 'viewer');
}

export interface HttpAccess {
  /** The single bearer token of BEAT_API_TOKEN or a one-token file, if one is configured (named "api", scope write). */
  readonly token?: string;
  /** The tokens of an --api-token-file of `name:token` lines (used instead of `token`). */
  readonly tokens?: readonly ApiToken[];
  /** Reads that show entries answer any client without a token (still not a foreign Host). */
  readonly publicReads?: boolean;
  /**
   * Host names (or addresses) that name this server besides localhost, 127.0.0.1, ::1 and the bound
   * address (`--http-allowed-hosts`): a request without a credential whose Host is none of these gets
   * nothing that shows entries (DNS rebinding).
   */
  readonly allowedHosts?: readonly string[];
  /** Loopback client addresses not trusted as loopback: a reverse proxy on this host forwards others' requests. */
  readonly notLoopback?: readonly string[];
  /** /metrics answers only a request with a configured token (`--http-metrics-token-required`): 401 without one. */
  readonly metricsNeedToken?: boolean;
}

/** The configured tokens: the named ones, else the single one as "api" with scope write. */
export function tokensOf(access: HttpAccess): readonly ApiToken[] {
  if (access.tokens !== undefined) return access.tokens;
  return access.token === undefined ? [] : [{ name: 'api', token: access.token, grants: ADMIN }];
}

/** The configured token `given` is, compared with every one in constant time; undefined when none. */
export function findToken(given: string, tokens: readonly ApiToken[]): ApiToken | undefined {
  let found: ApiToken | undefined;
  for (const t of tokens) if (tokenMatches(given, t.token) && found === undefined) found = t;
  return found;
}

const TOKEN_TEXT = /^[\x21-\x7e]{16,}$/;
const NAME_TEXT = /^[A-Za-z0-9][\w.@-]{0,63}$/;
const NAMED_LINE = /^[A-Za-z0-9][\w.@-]{0,63}:\S/;
/**
 * The middle field of `NAME:MIDDLE:TOKEN` read as grants: it starts with a word and then `@`, `;`
 * or its end (`editor@team=billing`, `viewer`, a misspelt `edtor`). Anything else (`abc-1:…`) is a
 * token holding a colon, as a `NAME:TOKEN` line always could: a misspelt grant is refused as an
 * unknown role, never taken for part of an admin token.
 */
const GRANTS_FIELD = /^[A-Za-z]+(?:[@;]|$)/;
const LINE_FORMS =
  'NAME:TOKEN (admin), NAME:read:TOKEN (viewer) or NAME:GRANTS:TOKEN (such as billing-ci:editor@team=billing;viewer:TOKEN)';

/** One line's token: its name, grants and token, or the problem (without the line's number). */
function tokenLine(line: string): ApiToken | string {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon);
  const rest = line.slice(colon + 1);
  if (!NAME_TEXT.test(name)) return `expected ${LINE_FORMS}; the name is letters, digits, ".", "_", "@", "-"`;
  const second = rest.indexOf(':');
  const middle = second === -1 ? undefined : rest.slice(0, second);
  let grants: readonly Grant[] = ADMIN;
  let token = rest;
  if (middle !== undefined && (middle === 'read' || middle === 'write' || GRANTS_FIELD.test(middle.trim()))) {
    token = rest.slice(second + 1);
    if (middle === 'read') grants = VIEWER;
    else if (middle !== 'write') {
      const parsed = parseGrants(middle);
      if (!parsed.ok) return `the grants of ${JSON.stringify(name)}: ${parsed.problem} (roles: ${ROLES.join(', ')}; write ${LINE_FORMS})`;
      grants = parsed.grants;
    }
  }
  if (!TOKEN_TEXT.test(token))
    return `expected ${LINE_FORMS}: the token of ${JSON.stringify(name)} must be at least 16 printable characters without spaces (for example: openssl rand -hex 32)`;
  return { name, token, grants };
}

/**
 * The tokens of an --api-token-file: either one token (the whole file, as before: named "api",
 * admin), or one line per token, `NAME:GRANTS:TOKEN` (`NAME:TOKEN`: admin, `NAME:read:TOKEN`:
 * viewer); blank lines and `#` comments are skipped. Throws a message naming the line and the fix,
 * which never holds a token.
 */
export function parseTokenFile(text: string): ApiToken[] {
  const lines = text.split(/\r?\n/);
  const meaningful = lines.map((line, i) => ({ line: line.trim(), at: i + 1 })).filter(({ line }) => line !== '' && !line.startsWith('#'));
  const single = meaningful.length === 1 && !NAMED_LINE.test(meaningful[0]!.line);
  if (single || meaningful.length === 0) {
    const token = text.replace(/[\r\n]+$/, '');
    if (!TOKEN_TEXT.test(token))
      throw new Error('the API token must be at least 16 printable characters without spaces (for example: openssl rand -hex 32)');
    return [{ name: 'api', token, grants: ADMIN }];
  }
  const tokens: ApiToken[] = [];
  for (const { line, at } of meaningful) {
    const read = NAMED_LINE.test(line) ? tokenLine(line) : `expected ${LINE_FORMS}`;
    if (typeof read === 'string') throw new Error(`line ${at}: ${read}`);
    if (tokens.some((t) => t.name === read.name)) throw new Error(`line ${at}: the name ${JSON.stringify(read.name)} is given twice`);
    if (tokens.some((t) => tokenMatches(read.token, t.token)))
      throw new Error(`line ${at}: the token of ${JSON.stringify(read.name)} is another line's too; give each name its own token`);
    tokens.push(read);
  }
  return tokens;
}

/** Why a request is refused, as the API answers it. */
export interface Refusal {
  /** Its code's (ERROR_ANSWERS): 401 without a valid token, else 403. */
  readonly status: number;
  readonly code: ErrorCode;
  readonly error: string;
}

function refusal(code: ErrorCode, error: string): Refusal {
  return { status: ERROR_ANSWERS[code].http, code, error };
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Compares in constant time: both sides are hashed first, so neither the token's length nor its
 * first differing byte shows in the time taken.
 */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Whether the client is trusted as loopback: a loopback address not listed in `notLoopback`. */
function trustedLoopback(req: IncomingMessage, access: HttpAccess): boolean {
  const address = req.socket.remoteAddress;
  if (!isLoopback(address)) return false;
  const plain = address!.startsWith('::ffff:') ? address!.slice(7) : address!;
  return !(access.notLoopback ?? []).some((a) => a === address || a === plain);
}

/** The host of a Host header, lower case, without its port or an IPv6 literal's brackets; undefined when there is none. */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const text = header.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d*)?$/.exec(text);
  if (v6 !== null) return v6[1];
  return text.replace(/:\d*$/, '').replace(/\.$/, '');
}

const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Whether the request's Host header names this server: a loopback name, the bound address, or one of allowedHosts. */
export function hostAllowed(req: IncomingMessage, access: HttpAccess): boolean {
  const host = hostOf(req.headers.host);
  if (host === undefined) return false;
  const bound = req.socket.localAddress;
  const boundPlain = bound?.startsWith('::ffff:') ? bound.slice(7) : bound;
  return LOCAL_NAMES.includes(host) || host === bound || host === boundPlain || (access.allowedHosts ?? []).some((h) => hostOf(h) === host);
}

const HOW_TO_CONFIGURE = `start beat run with --api-token-file PATH (a file holding the token) or $${ENV.apiToken}, and send it as "Authorization: Bearer <token>"`;

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The refusal of a request that needs a token of `scope`, or undefined when it carries one. */
function checkToken(req: IncomingMessage, access: HttpAccess, what: string, scope: 'read' | 'write'): Refusal | undefined {
  const given = bearer(req);
  if (given === undefined) {
    return refusal(ErrorCode.ApiUnauthorized, `${what} needs a bearer token: send "Authorization: Bearer <token>"`);
  }
  const found = findToken(given, tokensOf(access));
  if (found === undefined) {
    return refusal(ErrorCode.ApiUnauthorized, `${what}: the bearer token is not one of those configured`);
  }
  if (scope === 'write' && !mayWrite(found)) {
    return refusal(
      ErrorCode.ApiForbidden,
      `${what}: the token "${found.name}" may only read (its grants in --api-token-file: ${grantsText(found.grants)}); give it operator, editor or admin to change entries`,
    );
  }
  return undefined;
}

/** The name of the configured token the request carries (for the logs and the audit), if any. */
export function tokenName(req: IncomingMessage, access: HttpAccess): string | undefined {
  const given = bearer(req);
  return given === undefined ? undefined : findToken(given, tokensOf(access))?.name;
}

/**
 * Who calls, once the route's access rule let the request in: the token's name and grants; else
 * the dashboard's session (`session`), with its grants as they are now (a session whose token or
 * claim grants nothing now has ended before this: dashboard/routes.ts); else a reader the read rule
 * let in without a credential (trusted loopback, --http-public-reads), who sees the whole
 * deployment as before.
 */
export function callerOf(req: IncomingMessage, access: HttpAccess, session?: Caller): Caller {
  const given = bearer(req);
  const found = given === undefined ? undefined : findToken(given, tokensOf(access));
  if (found !== undefined) return { who: found.name, grants: found.grants };
  if (session !== undefined) return { who: session.who, grants: session.grants };
  return { who: 'anonymous', grants: VIEWER };
}

/** May this request change entries? */
export function authorizeWrite(req: IncomingMessage, access: HttpAccess): Refusal | undefined {
  if (!tokensOf(access).some(mayWrite)) {
    return refusal(
      ErrorCode.ApiForbidden,
      `writes through the entries API are off because no API token that may write is configured: ${HOW_TO_CONFIGURE}`,
    );
  }
  return checkToken(req, access, 'a write to the entries API', 'write');
}

/**
 * May this request read what shows entries (/status, GET /api/*, the dashboard's reads)? With a
 * configured token (or `session`: the dashboard's, checked by the caller), from anywhere; without
 * one, a trusted loopback client, or any client with --http-public-reads, and in both cases only
 * when the Host header names this server: a page on another site that the operator's browser
 * opens can point its own name at 127.0.0.1 (DNS rebinding), but cannot make the browser send
 * this server's name, nor the token.
 */
export function authorizeRead(req: IncomingMessage, access: HttpAccess, session = false): Refusal | undefined {
  if (session) return undefined;
  const given = bearer(req);
  if (given !== undefined) return checkToken(req, access, 'a read of the schedule', 'read');
  if (!hostAllowed(req, access)) {
    return refusal(
      ErrorCode.ApiForeignHost,
      `the Host header ${JSON.stringify((req.headers.host ?? '').slice(0, 100))} does not name this server: without a token, the schedule is shown only to requests for localhost, 127.0.0.1, ::1, the bound address or a name of --http-allowed-hosts ($${ENV.httpAllowedHosts})`,
    );
  }
  if (access.publicReads === true || trustedLoopback(req, access)) return undefined;
  if (tokensOf(access).length === 0) {
    return refusal(
      ErrorCode.ApiForbidden,
      `this endpoint shows the schedule and answers loopback clients only unless a token is configured (${HOW_TO_CONFIGURE}) or beat run is started with --http-public-reads ($${ENV.httpPublicReads}=1)`,
    );
  }
  return checkToken(req, access, 'a read from beyond loopback', 'read');
}

/**
 * May this request read /metrics? Anyone, unless `metricsNeedToken`; a token sent must be one
 * configured either way (401 otherwise), since it decides which entries' series the answer holds.
 */
export function authorizeMetrics(req: IncomingMessage, access: HttpAccess): Refusal | undefined {
  if (bearer(req) === undefined && access.metricsNeedToken !== true) return undefined;
  return checkToken(req, access, `/metrics (beat run --http-metrics-token-required, $${ENV.httpMetricsTokenRequired})`, 'read');
}

/** The WWW-Authenticate header of a 401 (RFC 6750). */
export function challenge(req: IncomingMessage): string {
  return bearer(req) === undefined ? 'Bearer realm="tsbeat"' : 'Bearer realm="tsbeat", error="invalid_token"';
}
