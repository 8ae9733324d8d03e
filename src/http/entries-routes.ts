/**
 * The runtime entries over HTTP: `GET /api/entries?limit=&after=&selector=` (pages in name order),
 * `GET|PUT|DELETE /api/entries/NAME`, a bulk `PUT /api/entries` (name → entry, all or nothing), and
 * `POST /api/entries/NAME/backfill` (any entry that runs, the config file's too) with its progress.
 * Bodies are JSON; every refusal is JSON too: `{error, code, problems: [{path, message}]}`. What it
 * does with an entry is the EntriesHandlers' business (the service implements them on the Redis
 * store); this module only speaks HTTP: routes, the token, bodies, statuses.
 */
import { maskTarget, redactText } from '../base/redact.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ConfigError, ERROR_ANSWERS, ErrorCode } from '../base/errors.js';
import { headerNoteProblem } from '../base/note-text.js';
import type { ConfigProblem } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { authorizeRead, authorizeWrite, challenge, tokenName } from './auth.js';
import type { HttpAccess, Refusal } from './auth.js';
import { ApiError, failureAnswer, statusOf } from './failures.js';
import { readJsonBody } from './request-body.js';

/** An entry of the store as the API shows it. */
export interface ApiEntry {
  readonly name: string;
  readonly entry: unknown;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why the scheduler does not run it, if it does not. */
  readonly problems?: readonly ConfigProblem[];
}

/**
 * What the API asks of the store. Failures are BeatErrors: ENTRY_INVALID (a ConfigError with the
 * problems), ENTRY_IS_STATIC, UNKNOWN_ENTRY, REDIS_UNAVAILABLE and the other Redis refusals.
 */
export interface EntriesHandlers {
  /**
   * Up to `limit` entries whose names sort after `after`, and the cursor of the next page when there
   * is one. With `selector` (a label selector's text; one that does not parse is API_BAD_REQUEST
   * naming the character), only the entries of the page it selects: a page may then hold fewer.
   */
  list(after: string | undefined, limit: number, selector?: string): Promise<{ entries: readonly ApiEntry[]; next?: string }>;
  get(name: string): Promise<ApiEntry | undefined>;
  /** `ifVersion`: apply only to that stored version (0: only if none), else ENTRY_CONFLICT. */
  /** `who`: the token's name (or the dashboard's session), recorded by the audit with `note` (X-Beat-Note). */
  put(name: string, entry: unknown, who: string, ifVersion?: number, note?: string): Promise<{ created: boolean; entry: ApiEntry }>;
  putMany(
    entries: Readonly<Record<string, unknown>>,
    who: string,
    note?: string,
  ): Promise<{ version: number; outcomes: Record<string, string> }>;
  /** How deep an entry's args and kwargs may nest now (the config's entryLimits.maxDepth); a body may nest 4 more. */
  entryMaxDepth?(): number;
  /** False when there was no such entry. */
  remove(name: string, keepHistory: boolean, who: string, ifVersion?: number, note?: string): Promise<boolean>;
  /** `POST /api/entries/NAME/backfill` (service/backfill-api.ts): the status and body to answer. */
  backfill?(name: string, body: unknown, who: string, note?: string): Promise<{ status: number; body: unknown }>;
  /** `GET /api/entries/NAME/backfill/ID`: a backfill request's progress. */
  backfillProgress?(name: string, id: string): Promise<{ status: number; body: unknown }>;
}

export const ENTRIES_PATH = '/api/entries';
const JSON_TYPE = 'application/json; charset=utf-8';

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : `${JSON.stringify(value)}\n`);
}

export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  error: string,
  problems: readonly ConfigProblem[] = [],
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    ERROR_ANSWERS[code].http,
    { error: redactText(error), code, problems: problems.map(({ path, message }) => ({ path, message: redactText(message) })) },
    headers,
  );
}

/** Answers a refusal of the request's credentials (and logs it, without the token). */
export function sendRefusal(req: IncomingMessage, res: ServerResponse, refusal: Refusal, logger: Logger): void {
  logger.warn(
    {
      event: EVENTS.apiRefused,
      // A token sent in the query string is the client's mistake, and still a secret.
      path: maskTarget(req.url),
      method: req.method,
      client: req.socket.remoteAddress,
      status: ERROR_ANSWERS[refusal.code].http,
    },
    refusal.error,
  );
  const challenged: Record<string, string> = refusal.code === ErrorCode.ApiUnauthorized ? { 'www-authenticate': challenge(req) } : {};
  sendError(res, refusal.code, refusal.error, [], challenged);
}

/**
 * A handler's failure as the API answers it, status and JSON body (for the dashboard, which calls
 * the handlers itself); undefined for an outage (503) or tsbeat's own failure (500), which the
 * server answers (with Retry-After, or an error id in the log).
 */
export function errorAnswer(error: unknown): { status: number; body: unknown } | undefined {
  if (!(error instanceof BeatError)) return undefined;
  const status = statusOf(error);
  if (status >= 500) return undefined;
  const problems = error instanceof ConfigError ? error.problems.map(({ path, message }) => ({ path, message })) : [];
  const message =
    error instanceof ConfigError ? `${problems.length} problem${problems.length === 1 ? '' : 's'} in the entries sent` : error.message;
  return { status, body: { error: message, code: error.code, problems } };
}

/**
 * `If-Match: "<version>"` (the ETag of a GET or PUT): the write applies only to that version of the
 * entry, so that a read-modify-write does not overwrite a change made meanwhile (412 if it would).
 * `"0"` means only if there is no such entry yet.
 */
function ifMatch(req: IncomingMessage): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (match === null) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `If-Match must be an entry's ETag, such as "3" (its version), got ${JSON.stringify(header.slice(0, 80))}`,
    );
  }
  return Number(match[1]);
}

function queryLimit(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null) return DEFAULTS.apiPageDefault;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > DEFAULTS.apiPageMax) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `limit must be a whole number from 1 to ${DEFAULTS.apiPageMax}, got ${JSON.stringify(text)}`,
    );
  }
  return limit;
}

function queryFlag(query: URLSearchParams, name: string): boolean {
  const text = query.get(name);
  if (text === null || text === 'false' || text === '0') return false;
  if (text === '' || text === 'true' || text === '1') return true;
  throw new ApiError(ErrorCode.ApiBadRequest, `${name} must be true or false, got ${JSON.stringify(text)}`);
}

function entryName(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new ApiError(ErrorCode.ApiBadRequest, `the entry name in the path is not valid percent-encoding: ${JSON.stringify(encoded)}`);
  }
}

function methodNotAllowed(allow: string): ApiError {
  return new ApiError(ErrorCode.ApiMethodNotAllowed, `this path takes ${allow}`, { allow });
}

/**
 * Reads and drops what is left of a refused request's body. Closing the connection on it instead
 * would reset it, and the client could lose the answer with the unread bytes; the server's
 * requestTimeout bounds how long a client may keep sending.
 */
function drain(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

/**
 * `X-Beat-Note`: why the change is made, kept by the audit trail with it (percent-decoded, so that
 * it may hold any text). Held to the rule of the CLI's --note (base/note-text.ts): a note it
 * refuses is a 400 naming the header, and nothing is changed.
 */
export function noteOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-beat-note'];
  if (header === undefined) return undefined;
  const problem = headerNoteProblem(header);
  if (problem !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, problem);
  return decodeURIComponent(header as string);
}

function client(req: IncomingMessage): string {
  return `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
}

/** Serves a request under /api/entries. */
export async function serveEntries(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: EntriesHandlers | undefined,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  try {
    await route(req, res, url, handlers, access, logger);
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
    drain(req);
  }
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: EntriesHandlers | undefined,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  const rest = url.pathname.slice(ENTRIES_PATH.length);
  const backfill = /^\/([^/]+)\/backfill(?:\/([^/]+))?$/.exec(rest);
  if (backfill !== null) return routeBackfill(req, res, backfill, method, handlers, access, logger);
  const one = rest.startsWith('/') && rest.length > 1 ? entryName(rest.slice(1)) : undefined;
  if (rest !== '' && rest !== '/' && one === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'not found');
  const allowed = one === undefined ? ['GET', 'HEAD', 'PUT'] : ['GET', 'HEAD', 'PUT', 'DELETE'];
  if (!allowed.includes(req.method ?? '')) throw methodNotAllowed(allowed.join(', '));
  const refusal = method === 'GET' ? authorizeRead(req, access) : authorizeWrite(req, access);
  if (refusal !== undefined) {
    sendRefusal(req, res, refusal, logger);
    drain(req);
    return;
  }
  if (handlers === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'the entries API is not served by this process');
  // The token's name: what the logs (and the audit) record as who made a change.
  const who = tokenName(req, access) ?? 'anonymous';
  // Read for changes only: a GET carries no change to explain.
  const note = method === 'GET' ? undefined : noteOf(req);
  const address = client(req);

  if (one === undefined && method === 'GET') {
    const after = url.searchParams.get('after') ?? undefined;
    const selector = url.searchParams.get('selector') ?? undefined;
    sendJson(res, 200, await handlers.list(after, queryLimit(url.searchParams), selector));
  } else if (one === undefined) {
    const body = await readJsonBody(req, DEFAULTS.apiBodyMaxBytes, (handlers.entryMaxDepth?.() ?? DEFAULTS.entryMaxDepth) + 4, res);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError(ErrorCode.ApiBadRequest, 'the body of PUT /api/entries must be an object mapping entry names to entries');
    }
    const result = await handlers.putMany(body as Record<string, unknown>, who, note);
    logger.info(
      { event: EVENTS.apiWrite, who, client: address, count: Object.keys(result.outcomes).length, version: result.version },
      'entries written',
    );
    sendJson(res, 200, result);
  } else if (method === 'GET') {
    const found = await handlers.get(one);
    if (found === undefined) throw new BeatError(ErrorCode.UnknownEntry, `no runtime entry ${JSON.stringify(one)}`);
    sendJson(res, 200, found, { etag: `"${found.version}"` });
  } else if (method === 'PUT') {
    const ifVersion = ifMatch(req);
    const body = await readJsonBody(req, DEFAULTS.apiBodyMaxBytes, (handlers.entryMaxDepth?.() ?? DEFAULTS.entryMaxDepth) + 4, res);
    const { created, entry } = await handlers.put(one, body, who, ifVersion, note);
    logger.info(
      { event: EVENTS.apiWrite, who, client: address, entry: one, outcome: created ? 'created' : 'updated' },
      `entry ${created ? 'created' : 'updated'}`,
    );
    sendJson(res, created ? 201 : 200, entry, { etag: `"${entry.version}"` });
  } else {
    const keepHistory = queryFlag(url.searchParams, 'keepHistory');
    if (!(await handlers.remove(one, keepHistory, who, ifMatch(req), note)))
      throw new BeatError(ErrorCode.UnknownEntry, `no runtime entry ${JSON.stringify(one)}`);
    logger.info({ event: EVENTS.apiWrite, who, client: address, entry: one, outcome: 'deleted', keepHistory }, 'entry deleted');
    res.writeHead(204, { 'cache-control': 'no-store' });
    res.end();
  }
}

/**
 * `POST /api/entries/NAME/backfill` (write scope; audited by the handler) and `GET
 * /api/entries/NAME/backfill/ID` (read scope): a backfill and its progress.
 */
async function routeBackfill(
  req: IncomingMessage,
  res: ServerResponse,
  match: RegExpExecArray,
  method: string,
  handlers: EntriesHandlers | undefined,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  const name = entryName(match[1] as string);
  const id = match[2] === undefined ? undefined : entryName(match[2]);
  if (id === undefined ? req.method !== 'POST' : method !== 'GET') throw methodNotAllowed(id === undefined ? 'POST' : 'GET, HEAD');
  const refusal = method === 'GET' ? authorizeRead(req, access) : authorizeWrite(req, access);
  if (refusal !== undefined) {
    sendRefusal(req, res, refusal, logger);
    drain(req);
    return;
  }
  if (handlers?.backfill === undefined || handlers.backfillProgress === undefined)
    throw new ApiError(ErrorCode.ApiNotFound, 'backfills are not served by this process');
  if (id !== undefined) {
    const answer = await handlers.backfillProgress(name, id);
    sendJson(res, answer.status, answer.body);
    return;
  }
  const who = tokenName(req, access) ?? 'anonymous';
  const body = await readJsonBody(req, DEFAULTS.apiBodyMaxBytes, 4, res);
  const answer = await handlers.backfill(name, body, who, noteOf(req));
  logger.info(
    { event: EVENTS.apiWrite, who, client: client(req), entry: name, outcome: 'backfill', status: answer.status },
    'backfill requested',
  );
  sendJson(res, answer.status, answer.body);
}
