/**
 * The deployment-wide stop over HTTP (`beat pause --all` / `beat resume --all`): `GET /api/stop`
 * reads it, `PUT /api/stop` sets it and `DELETE /api/stop` lifts it, with the note in the body
 * (`{"note": TEXT}`) or the X-Beat-Note header, as the other writes take it. The writes need the
 * write token; the read is a read of the schedule. What a stop is and how it is stored is the
 * StopHandlers' business (service/, redis/control-store.ts); this module only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { noteProblem } from '../base/note-text.js';
import { authorizeRead, authorizeWrite, tokenName } from './auth.js';
import type { HttpAccess } from './auth.js';
import { noteOf, sendJson, sendRefusal } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';
import { readJsonBody } from './request-body.js';

export const STOP_PATH = '/api/stop';

/** A body of at most a note: `{"note": TEXT}`. */
const NOTE_BODY_MAX_BYTES = 4096;

/** The stop as the API answers it: `{by, since, note}` (control/deployment-stop.ts DeploymentStopView), or null. */
export interface StopHandlers {
  read(): Promise<unknown>;
  /** Sets the stop: `{stopped, changed}` (changed false: it was already set, nothing written). */
  stop(who: string, note: string | undefined): Promise<unknown>;
  /** Lifts it: `{lifted}`, the stop lifted, or null when none was set (nothing written). */
  resume(who: string, note: string | undefined): Promise<unknown>;
}

/**
 * The note of a write whose body is at most a note (the stop's, a pause's, a resume's, a trigger's):
 * the body's `note` (when a JSON body is sent) or the X-Beat-Note header, not both.
 */
export async function bodyNote(req: IncomingMessage, path: string): Promise<string | undefined> {
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

/** Serves GET, PUT and DELETE /api/stop. */
export async function serveStop(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: StopHandlers | undefined,
  access: HttpAccess,
  session: boolean,
  logger: Logger,
): Promise<void> {
  try {
    const method = req.method ?? 'GET';
    if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(method))
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'this path takes GET, PUT or DELETE', { allow: 'GET, HEAD, PUT, DELETE' });
    const read = method === 'GET' || method === 'HEAD';
    const refusal = read ? authorizeRead(req, access, session) : authorizeWrite(req, access);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      if (!req.complete) req.resume();
      return;
    }
    if (handlers === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'the deployment-wide stop is not served by this process');
    if (read) {
      sendJson(res, 200, { stopped: (await handlers.read()) ?? null });
      return;
    }
    const who = tokenName(req, access) ?? 'anonymous';
    const note = await bodyNote(req, STOP_PATH);
    const answer = method === 'PUT' ? await handlers.stop(who, note) : await handlers.resume(who, note);
    logger.info({ event: EVENTS.apiWrite, who, outcome: method === 'PUT' ? 'pause-all' : 'resume-all' }, 'deployment-wide stop changed');
    sendJson(res, 200, answer);
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
    if (!req.complete) req.resume();
  }
}
