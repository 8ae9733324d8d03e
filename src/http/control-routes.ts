/**
 * The control verbs over HTTP: `POST /api/entries/NAME/pause|resume|trigger` for one entry,
 * `POST /api/selected/pause|resume|trigger?selector=…` for the entries a label selector selects (the
 * whole deployment's pause and resume are /api/stop), `GET /api/entries/NAME/history?limit=` and
 * `GET /api/status` (what /status answers). A write's body is at most `{"note": TEXT}` (or the
 * X-Beat-Note header) and needs the write token; the reads follow the read rule. What a verb does is
 * the ControlHandlers' business (service/, src/operations/); this module only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { authorizeRead, authorizeWrite, tokenName } from './auth.js';
import type { HttpAccess } from './auth.js';
import { sendJson, sendRefusal } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';
import { bodyNote } from './stop-routes.js';

export const SELECTED_PATH = '/api/selected';
export const API_STATUS_PATH = '/api/status';

export type ControlVerb = 'pause' | 'resume' | 'trigger';

export interface ControlHandlers {
  /** The verb on one entry, or on what `selector` (its text) selects: the status and body to answer. */
  act(
    verb: ControlVerb,
    target: { readonly entry: string } | { readonly selector: string },
    by: { readonly who: string; readonly note: string | undefined },
  ): Promise<{ status: number; body: unknown }>;
  /** An entry's last runs, newest first (UNKNOWN_ENTRY when no entry of that name runs). */
  history(entry: string, limit: number): Promise<unknown>;
}

const ENTRY_VERB = /^\/api\/entries\/([^/]+)\/(pause|resume|trigger|history)$/;
const SELECTED_VERB = /^\/api\/selected\/(pause|resume|trigger)$/;

/** Whether the path is one of this module's (the server asks before the entries routes do). */
export function servesControl(path: string): boolean {
  return ENTRY_VERB.test(path) || SELECTED_VERB.test(path);
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
    const entryVerb = ENTRY_VERB.exec(url.pathname);
    const verb = (entryVerb?.[2] ?? SELECTED_VERB.exec(url.pathname)?.[1]) as ControlVerb | 'history';
    const method = req.method ?? 'GET';
    const read = verb === 'history';
    if (read ? method !== 'GET' && method !== 'HEAD' : method !== 'POST')
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, `this path takes ${read ? 'GET' : 'POST'}`, { allow: read ? 'GET, HEAD' : 'POST' });
    const refusal = read ? authorizeRead(req, access, session) : authorizeWrite(req, access);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      if (!req.complete) req.resume();
      return;
    }
    if (handlers === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'the control verbs are not served by this process');
    const entry = entryVerb?.[1] === undefined ? undefined : decodeURIComponent(entryVerb[1]);
    if (verb === 'history') {
      sendJson(res, 200, { entry, runs: await handlers.history(entry ?? '', historyLimit(url.searchParams)) });
      return;
    }
    const selector = url.searchParams.get('selector');
    if (entry === undefined && (selector === null || selector.trim() === ''))
      throw new ApiError(
        ErrorCode.ApiBadRequest,
        'selector: give a label selector such as ?selector=team%3Dbilling (a blank one would select every entry)',
      );
    const who = tokenName(req, access) ?? 'anonymous';
    const note = await bodyNote(req, url.pathname);
    const answer = await handlers.act(verb, entry !== undefined ? { entry } : { selector: selector ?? '' }, { who, note });
    logger.info({ event: EVENTS.apiWrite, who, outcome: verb, ...(entry === undefined ? { selector } : { entry }) }, `API ${verb}`);
    sendJson(res, answer.status, answer.body);
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
    if (!req.complete) req.resume();
  }
}
