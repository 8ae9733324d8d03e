/**
 * Who may do what over HTTP. The entries API's write methods need the bearer token (`--api-token-file`
 * or BEAT_API_TOKEN) and are refused outright when none is configured. Reads that show the schedule
 * (/status, GET /api/entries) are open to loopback clients and need the token from anywhere else,
 * unless the operator opts in (`--http-public-reads`). The probes and /metrics stay open: kubelets
 * and Prometheus scrape them from other hosts and they show no task arguments.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ENV } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';

export interface HttpAccess {
  /** The bearer token, if one is configured. */
  readonly token?: string;
  /** /status and GET /api/entries answer any client without a token. */
  readonly publicReads?: boolean;
}

/** Why a request is refused, as the API answers it. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly code: ErrorCode;
  readonly error: string;
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

const HOW_TO_CONFIGURE = `start beat run with --api-token-file PATH (a file holding the token) or $${ENV.apiToken}, and send it as "Authorization: Bearer <token>"`;

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The refusal of a request that needs the token, or undefined when it carries the right one. */
function checkToken(req: IncomingMessage, access: HttpAccess, what: string): Refusal | undefined {
  const given = bearer(req);
  if (given === undefined) {
    return { status: 401, code: ErrorCode.ApiUnauthorized, error: `${what} needs a bearer token: send "Authorization: Bearer <token>"` };
  }
  if (access.token === undefined || !tokenMatches(given, access.token)) {
    return { status: 401, code: ErrorCode.ApiUnauthorized, error: `${what}: the bearer token is not the one configured` };
  }
  return undefined;
}

/** May this request change entries? */
export function authorizeWrite(req: IncomingMessage, access: HttpAccess): Refusal | undefined {
  if (access.token === undefined) {
    return {
      status: 403,
      code: ErrorCode.ApiForbidden,
      error: `writes through the entries API are off because no API token is configured: ${HOW_TO_CONFIGURE}`,
    };
  }
  return checkToken(req, access, 'a write to the entries API');
}

/** May this request read the schedule (/status, GET /api/entries)? */
export function authorizeRead(req: IncomingMessage, access: HttpAccess): Refusal | undefined {
  if (access.publicReads === true || isLoopback(req.socket.remoteAddress)) return undefined;
  if (access.token === undefined) {
    return {
      status: 403,
      code: ErrorCode.ApiForbidden,
      error: `this endpoint shows the schedule and answers loopback clients only unless a token is configured (${HOW_TO_CONFIGURE}) or beat run is started with --http-public-reads ($${ENV.httpPublicReads}=1)`,
    };
  }
  return checkToken(req, access, 'a read from beyond loopback');
}

/** The WWW-Authenticate header of a 401 (RFC 6750). */
export function challenge(req: IncomingMessage): string {
  return bearer(req) === undefined ? 'Bearer realm="tsbeat"' : 'Bearer realm="tsbeat", error="invalid_token"';
}
