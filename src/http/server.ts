/**
 * The HTTP endpoints: /healthz (the process and its loops are alive), /readyz (connected and either
 * leading or a healthy standby), /metrics (Prometheus text), /status (JSON), all read-only, and the
 * runtime entries API under /api/entries (entries-routes.ts), whose writes need the bearer token.
 * /status and the API's reads answer loopback clients, and others only with the token (auth.ts).
 * Anything else is 404; any method but GET/HEAD on a read-only path is 405.
 * Routes handed in (`routes`: the dashboard, src/dashboard/) answer first, with their own rules.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { BeatMetrics } from '../observe/metrics.js';
import { authorizeRead } from './auth.js';
import { AUDIT_PATH, serveAudit } from './audit-routes.js';
import { APPLY_PATH, PLAN_PATH, servePlans } from './plan-routes.js';
import type { PlanHandlers } from './plan-routes.js';
import type { AuditReader } from './audit-routes.js';
import type { HttpAccess } from './auth.js';
import { ENTRIES_PATH, sendError, sendJson, sendRefusal, serveEntries } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';
import { API_STATUS_PATH, serveControl, servesControl } from './control-routes.js';
import type { ControlHandlers } from './control-routes.js';
import type { EntriesHandlers } from './entries-routes.js';

export interface Probe {
  readonly ok: boolean;
  readonly reason: string;
  /**
   * The reason as a client that may not read the schedule is told it (no token, not trusted
   * loopback): the same verdict and cause, without Redis hosts, key names or settings (the probe is
   * open to anyone who reaches the port).
   * Absent: the reason holds none.
   */
  readonly brief?: string;
}

export interface HttpHandlers {
  health(): Probe;
  ready(): Promise<Probe>;
  /** One page of the status: entries `offset` to `offset + limit` (and `next`, the offset of the next page, when there are more). */
  status(page?: { offset: number; limit: number }): Promise<unknown>;
  readonly metrics: BeatMetrics;
  /** The audit trail (GET /api/audit); without it, 404. */
  readonly audit?: AuditReader;
  /** The runtime entries API; without it /api/entries is 404. */
  readonly entries?: EntriesHandlers;
  /** POST /api/plan and /api/apply; without them, 404. */
  readonly plans?: PlanHandlers;
  /** Pause, resume and trigger of an entry, a selection or (/api/stop) the deployment, and an entry's history (control-routes.ts); without them, 404. */
  readonly control?: ControlHandlers;
  /** Who may read the schedule and write entries (no token: writes are refused, reads are loopback-only). */
  readonly access?: HttpAccess;
  /** The name of the dashboard session the request carries, if any: a credential for reads, as a token is. */
  readonly session?: (req: IncomingMessage) => string | undefined;
  /** More routes (the dashboard), tried first: true when it answered the request. */
  readonly routes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `:PORT` (all interfaces would be surprising: it means 127.0.0.1) or `[v6]:PORT`. */
export function parseHttpAddress(text: string, origin: string): HttpAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BeatError(ErrorCode.Usage, `${origin} "${text}": expected HOST:PORT, such as 127.0.0.1:9808 or 0.0.0.0:9808`);
  }
  const host = match[1] ?? (match[2] === '' || match[2] === undefined ? '127.0.0.1' : match[2]);
  return { host, port };
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * The dashboard's reads that show entries (everything under /ui/api/ but its login and logout),
 * guarded here by the same rule as /status and /api/* (auth.ts authorizeRead), before the
 * dashboard's own routes answer. The page and its assets show nothing of the schedule.
 */
function showsEntriesToReader(req: IncomingMessage, path: string): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  return path.startsWith('/ui/api/');
}

/** `?offset=&limit=` of /status: whole numbers, limit 1 to DEFAULTS.statusPageMax (its default). */
function statusPage(query: URLSearchParams): { offset: number; limit: number } {
  const number = (name: string, fallback: number, min: number, max: number): number => {
    const text = query.get(name);
    if (text === null) return fallback;
    const value = Number(text);
    if (!/^\d{1,15}$/.test(text) || value < min || value > max) {
      throw new ApiError(
        ErrorCode.ApiBadRequest,
        `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text.slice(0, 40))}`,
      );
    }
    return value;
  };
  return {
    offset: number('offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: number('limit', DEFAULTS.statusPageMax, 1, DEFAULTS.statusPageMax),
  };
}

/** Malformed percent-encoding in the path (`%E0%A4%A`) is the client's mistake, refused before any route decodes it. */
function checkPercentEncoding(path: string): void {
  try {
    decodeURIComponent(path);
  } catch {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `the path ${JSON.stringify(path.slice(0, 200))} is not valid percent-encoding (each % must start a %XX of UTF-8)`,
    );
  }
}

function probe(res: ServerResponse, result: Probe, detailed = true): void {
  const reason = detailed ? result.reason : (result.brief ?? result.reason);
  send(res, result.ok ? 200 : 503, 'text/plain; charset=utf-8', `${result.ok ? 'ok' : 'not ok'}: ${reason}\n`);
}

export async function startHttpServer(
  address: HttpAddress,
  handlers: HttpHandlers,
  logger: Logger,
): Promise<{ server: Server; address: HttpAddress; close(): Promise<void> }> {
  const access = handlers.access ?? {};
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    handleRequest(req, res, handlers, access, logger).catch((error: unknown) => {
      const answer = failureAnswer(error, req, logger);
      if (!res.headersSent) sendJson(res, answer.status, answer.body, answer.headers);
      else res.end();
      if (!req.complete) req.resume();
    });
  });
  answerUnparsedRequests(server);
  await listen(server, address);
  const bound = server.address() as AddressInfo;
  logger.info({ event: EVENTS.httpListen, host: bound.address, port: bound.port }, `HTTP on ${bound.address}:${bound.port}`);
  return {
    server,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** One request: the target checked, the dashboard's reads guarded, then the first route that serves its path. */
async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: HttpHandlers,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  const url = requestUrl(req);
  if (showsEntriesToReader(req, url.pathname)) {
    const refusal = authorizeRead(req, access, handlers.session?.(req) !== undefined);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      if (!req.complete) req.resume();
      return;
    }
  }
  if (handlers.routes !== undefined && (await handlers.routes(req, res))) return;
  if (servesControl(url.pathname)) {
    await serveControl(req, res, url, handlers.control, access, handlers.session?.(req) !== undefined, logger);
    return;
  }
  if (url.pathname === API_STATUS_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
    await serveStatus(req, res, url, handlers, access, logger);
    return;
  }
  if (url.pathname === ENTRIES_PATH || url.pathname.startsWith(`${ENTRIES_PATH}/`)) {
    await serveEntries(req, res, url, handlers.entries, access, logger);
    return;
  }
  if (url.pathname === PLAN_PATH || url.pathname === APPLY_PATH) {
    await servePlans(req, res, url, handlers.plans, access, logger);
    return;
  }
  if (url.pathname === AUDIT_PATH) {
    await serveAudit(req, res, url, handlers.audit, access, handlers.session?.(req) !== undefined, logger);
    return;
  }
  if (url.pathname.startsWith('/api/')) {
    sendError(res, ErrorCode.ApiNotFound, `not found; the API serves ${ENTRIES_PATH} and ${ENTRIES_PATH}/NAME`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, ErrorCode.ApiMethodNotAllowed, 'read-only: use GET', [], { allow: 'GET, HEAD' });
    if (!req.complete) req.resume();
    return;
  }
  await serveReadOnly(req, res, url, handlers, access, logger);
}

/** The request's target as a URL, refused when Node would refuse it without a code, or too long, or badly encoded. */
function requestUrl(req: IncomingMessage): URL {
  if (req.headers.host === undefined && req.httpVersion === '1.1') {
    // Node would answer this itself with a bare 400 (requireHostHeader): said here, with a code.
    throw new ApiError(ErrorCode.ApiBadRequest, 'an HTTP/1.1 request needs a Host header (RFC 9112)');
  }
  // Node keeps the first of several Host headers; a proxy in front may have judged the request by
  // another. RFC 9112 §3.2 says to answer 400, and the Host header decides who may read.
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'host') hosts += 1;
  if (hosts > 1) throw new ApiError(ErrorCode.ApiBadRequest, `the request has ${hosts} Host headers; send one (RFC 9112 §3.2)`);
  const target = req.url ?? '/';
  if (Buffer.byteLength(target) > DEFAULTS.httpMaxUrlBytes) {
    throw new ApiError(
      ErrorCode.ApiUriTooLong,
      `the request target is over ${DEFAULTS.httpMaxUrlBytes} bytes: send long values in the body`,
    );
  }
  const url = new URL(target.startsWith('/') ? `http://tsbeat${target}` : target, 'http://tsbeat');
  checkPercentEncoding(url.pathname);
  return url;
}

/** The read-only paths (GET and HEAD): the probes, the metrics and the status. */
async function serveReadOnly(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: HttpHandlers,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  switch (url.pathname) {
    case '/healthz':
      probe(res, handlers.health());
      return;
    case '/readyz':
      // The detail (hosts, keys) only to whom may read the schedule (/status shows as much): a
      // token, or a trusted loopback client. kubelet's probe, from the node, gets the brief.
      probe(res, await handlers.ready(), authorizeRead(req, access) === undefined);
      return;
    case '/metrics':
      send(res, 200, handlers.metrics.registry.contentType, await handlers.metrics.registry.metrics());
      return;
    case '/status':
      await serveStatus(req, res, url, handlers, access, logger);
      return;
    default:
      sendError(res, ErrorCode.ApiNotFound, 'not found; try /healthz, /readyz, /metrics, /status or /api/entries');
  }
}

async function serveStatus(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: HttpHandlers,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  const refusal = authorizeRead(req, access);
  if (refusal !== undefined) {
    sendRefusal(req, res, refusal, logger);
    return;
  }
  let status: unknown;
  try {
    status = await handlers.status(statusPage(url.searchParams));
  } catch (error) {
    // The status lives in Redis: while Redis is unreachable that is "unavailable, try again"
    // (503, with the reason and Retry-After); any other failure is tsbeat's own (500).
    const answer = failureAnswer(error, req, logger);
    const body = answer.status === 503 ? { ...answer.body, error: `status unavailable: ${answer.body.error}` } : answer.body;
    sendJson(res, answer.status, body, answer.headers);
    return;
  }
  send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(status, null, 2)}\n`);
}

/**
 * A request Node cannot parse never reaches the handler: answered here, with a code, as the
 * handler would (Node's own answer to headers over its limit is a bare 431).
 */
function answerUnparsedRequests(server: Server): void {
  const answered = new WeakSet<Duplex>();
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Node reports the same broken request again with each later piece of it: answered once, and
    // the socket left to its lingering close.
    if (answered.has(socket)) return;
    answered.add(socket);
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      error: tooLarge
        ? "the request line and headers are over 16 KiB (Node's limit): send large values in the body"
        : `the request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`,
      code: tooLarge ? ErrorCode.ApiHeadersTooLarge : ErrorCode.ApiBadRequest,
      problems: [],
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // A lingering close: what the client still sends is read and dropped for a moment, as closing
    // on unread bytes resets the connection, and a reset can drop the answer before it is read.
    socket.on('data', () => undefined);
    socket.resume();
    setTimeout(() => socket.destroy(), DEFAULTS.httpLingerMs).unref();
  });
}

function listen(server: Server, address: HttpAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new BeatError(ErrorCode.Usage, `cannot listen on ${address.host}:${address.port}: ${errorMessage(error)}`, { cause: error })),
    );
    server.listen(address.port, address.host, () => resolve());
  });
}
