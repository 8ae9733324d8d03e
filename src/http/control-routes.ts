/**
 * The control verbs over HTTP: `POST /api/entries/NAME/pause|resume|trigger` for one entry,
 * `POST /api/selected/pause|resume|trigger?selector=…` for the entries a label selector selects,
 * `GET|PUT|DELETE /api/stop` for the whole deployment (its stop read, set and lifted, as `beat pause
 * --all` and `beat resume --all`), `GET /api/entries/NAME/history?limit=` and `GET /api/status` (what
 * /status answers). A write's body is at most `{"note": TEXT}` (or the X-Beat-Note header) and needs
 * the write token; the reads follow the read rule. What a verb does is the ControlHandlers' business
 * (service/control-handlers.ts, src/operations/); this module only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { noteProblem } from '../base/note-text.js';
import { authorizeRead, authorizeWrite, tokenName } from './auth.js';
import type { HttpAccess } from './auth.js';
import { noteOf, sendJson, sendRefusal } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';
import { readJsonBody } from './request-body.js';

export const API_STATUS_PATH = '/api/status';
const STOP_PATH = '/api/stop';

export type ControlVerb = 'pause' | 'resume' | 'trigger';

export interface ControlHandlers {
  /** The verb on one entry, on what `selector` (its text) selects, or (pause, resume) on the whole deployment: the status and body to answer. */
  act(
    verb: ControlVerb,
    target: { readonly entry: string } | { readonly selector: string } | { readonly all: true },
    by: { readonly who: string; readonly note: string | undefined },
  ): Promise<{ status: number; body: unknown }>;
  /** The deployment-wide stop as the API answers it: `{by, since, note}` (control/deployment-stop.ts DeploymentStopView), or null. */
  stop(): Promise<unknown>;
  /** An entry's last runs, newest first (UNKNOWN_ENTRY when no entry of that name runs). */
  history(entry: string, limit: number): Promise<unknown>;
}

const ENTRY_VERB = /^\/api\/entries\/([^/]+)\/(pause|resume|trigger|history)$/;
const SELECTED_VERB = /^\/api\/selected\/(pause|resume|trigger)$/;

/** Whether the path is one of this module's (the server asks before the entries routes do). */
export function servesControl(path: string): boolean {
  return path === STOP_PATH || ENTRY_VERB.test(path) || SELECTED_VERB.test(path);
}

/** A body of at most a note: `{"note": TEXT}`. */
const NOTE_BODY_MAX_BYTES = 4096;

/** The note of a write: the body's `note` (when a JSON body is sent) or the X-Beat-Note header, not both. */
async function bodyNote(req: IncomingMessage, path: string): Promise<string | undefined> {
  const header = noteOf(req);
  const hasBody = req.headers['content-type'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return header;
  const body = await readJsonBody(req, NOTE_BODY_MAX_BYTES, 1);
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(ErrorCode.ApiBadRequest, `the body of ${req.method ?? ''} ${path} must be an object: {"note"?: TEXT}`);
  const { note, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0)
    throw new ApiError(ErrorCode.ApiBadRequest, `unknown field ${JSON.stringify(extra[0])}: the body is {"note"?: TEXT}`);
  if (note === undefined) return header;
  if (typeof note !== 'string') throw new ApiError(ErrorCode.ApiBadRequest, 'note must be a string (one line, why)');
  if (header !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, 'give the note in the body or in X-Beat-Note, not both');
  const problem = noteProblem(note);
  if (problem !== undefined) throw new ApiError(ErrorCode.ApiBadRequest, `note: ${problem}`);
  return note;
}

/** `?limit=` of a history: 1 to DEFAULTS.runHistoryLength, that by default. */
function historyLimit(params: URLSearchParams): number {
  const text = params.get('limit');
  if (text === null) return DEFAULTS.runHistoryLength;
  const limit = Number(text);
  if (!/^\d{1,6}$/.test(text) || limit < 1 || limit > DEFAULTS.runHistoryLength)
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `limit must be a whole number from 1 to ${DEFAULTS.runHistoryLength}, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  return limit;
}

/** What the request asks: a verb and its target, the methods it takes and whether it only reads. */
function routeOf(path: string, method: string): { verb: ControlVerb | 'history' | 'stop'; target?: { entry: string } | { all: true } } {
  if (path === STOP_PATH) {
    if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(method))
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'this path takes GET, PUT or DELETE', { allow: 'GET, HEAD, PUT, DELETE' });
    return method === 'PUT' || method === 'DELETE'
      ? { verb: method === 'PUT' ? 'pause' : 'resume', target: { all: true } }
      : { verb: 'stop' };
  }
  const entryVerb = ENTRY_VERB.exec(path);
  const verb = (entryVerb?.[2] ?? SELECTED_VERB.exec(path)?.[1]) as ControlVerb | 'history';
  const read = verb === 'history';
  if (read ? method !== 'GET' && method !== 'HEAD' : method !== 'POST')
    throw new ApiError(ErrorCode.ApiMethodNotAllowed, `this path takes ${read ? 'GET' : 'POST'}`, { allow: read ? 'GET, HEAD' : 'POST' });
  return entryVerb?.[1] === undefined ? { verb } : { verb, target: { entry: decodeURIComponent(entryVerb[1]) } };
}

/** Serves the paths servesControl accepts. */
export async function serveControl(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: ControlHandlers | undefined,
  access: HttpAccess,
  session: boolean,
  logger: Logger,
): Promise<void> {
  try {
    const { verb, target } = routeOf(url.pathname, req.method ?? 'GET');
    const read = verb === 'history' || verb === 'stop';
    const refusal = read ? authorizeRead(req, access, session) : authorizeWrite(req, access);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      if (!req.complete) req.resume();
      return;
    }
    if (handlers === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'the control verbs are not served by this process');
    if (verb === 'stop') {
      sendJson(res, 200, { stopped: (await handlers.stop()) ?? null });
      return;
    }
    if (verb === 'history') {
      const entry = target !== undefined && 'entry' in target ? target.entry : '';
      sendJson(res, 200, { entry, runs: await handlers.history(entry, historyLimit(url.searchParams)) });
      return;
    }
    const selector = url.searchParams.get('selector');
    if (target === undefined && (selector === null || selector.trim() === ''))
      throw new ApiError(
        ErrorCode.ApiBadRequest,
        'selector: give a label selector such as ?selector=team%3Dbilling (a blank one would select every entry)',
      );
    const who = tokenName(req, access) ?? 'anonymous';
    const note = await bodyNote(req, url.pathname);
    const answer = await handlers.act(verb, target ?? { selector: selector ?? '' }, { who, note });
    const all = target !== undefined && 'all' in target;
    logger.info(
      { event: EVENTS.apiWrite, who, outcome: all ? `${verb}-all` : verb, ...(target === undefined ? { selector } : target) },
      all ? 'deployment-wide stop changed' : `API ${verb}`,
    );
    sendJson(res, answer.status, answer.body);
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
    if (!req.complete) req.resume();
  }
}
