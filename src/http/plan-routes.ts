/**
 * Plan and apply over HTTP: `POST /api/plan` and `POST /api/apply`, each with the body
 * `{owner, entries: {name: entry}, planDigest?}` (and the note in X-Beat-Note, as the entries API
 * takes it). Both change or reveal the store as the entries API does, so both need the write token.
 * What a plan is and what an apply does is the PlanHandlers' business (service/plan-handlers.ts);
 * this module only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { authorizeWrite, tokenName } from './auth.js';
import type { HttpAccess } from './auth.js';
import { noteOf, sendJson, sendRefusal } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';
import { readJsonBody } from './request-body.js';

export const PLAN_PATH = '/api/plan';
export const APPLY_PATH = '/api/apply';

/** A request's fields, checked for their types (the handlers check the entries and the owner's name). */
export interface PlanRequest {
  readonly owner: string;
  readonly entries: Readonly<Record<string, unknown>>;
  readonly planDigest?: string;
}

export interface PlanHandlers {
  /** The plan, as `beat plan --json` prints it. */
  plan(request: PlanRequest): Promise<unknown>;
  /** Applies it: the plan applied and the store's version. Refusals are BeatErrors (OWNER_CONFLICT, PLAN_STALE: 409). */
  apply(request: PlanRequest, who: string, note: string | undefined): Promise<unknown>;
}

function planRequest(body: unknown, path: string): PlanRequest {
  const shape = `{"owner": NAME, "entries": {NAME: entry, …}, "planDigest"?: D}`;
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(ErrorCode.ApiBadRequest, `the body of POST ${path} must be an object: ${shape}`);
  const { owner, entries, planDigest } = body as Record<string, unknown>;
  if (typeof owner !== 'string') throw new ApiError(ErrorCode.ApiBadRequest, `owner must be a string (the owner's name): ${shape}`);
  if (entries === null || typeof entries !== 'object' || Array.isArray(entries))
    throw new ApiError(ErrorCode.ApiBadRequest, `entries must be an object mapping entry names to entries: ${shape}`);
  if (planDigest !== undefined && typeof planDigest !== 'string')
    throw new ApiError(ErrorCode.ApiBadRequest, `planDigest must be the digest string a plan answered`);
  return { owner, entries: entries as Record<string, unknown>, ...(planDigest === undefined ? {} : { planDigest }) };
}

/** Serves POST /api/plan and POST /api/apply. */
export async function servePlans(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  handlers: PlanHandlers | undefined,
  access: HttpAccess,
  logger: Logger,
): Promise<void> {
  try {
    if (req.method !== 'POST') throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'this path takes POST', { allow: 'POST' });
    const refusal = authorizeWrite(req, access);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      if (!req.complete) req.resume();
      return;
    }
    if (handlers === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'plans are not served by this process');
    const who = tokenName(req, access) ?? 'anonymous';
    const note = url.pathname === APPLY_PATH ? noteOf(req) : undefined;
    const request = planRequest(await readJsonBody(req, DEFAULTS.apiBodyMaxBytes, DEFAULTS.entryMaxDepth + 6, res), url.pathname);
    if (url.pathname === PLAN_PATH) {
      sendJson(res, 200, await handlers.plan(request));
      return;
    }
    const applied = await handlers.apply(request, who, note);
    logger.info({ event: EVENTS.apiWrite, who, owner: request.owner, outcome: 'apply' }, 'entries applied');
    sendJson(res, 200, applied);
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
    if (!req.complete) req.resume();
  }
}
