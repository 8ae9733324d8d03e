/**
 * `GET /api/audit?entry=&limit=&before=`: the audit trail of changes to entries, newest first, behind
 * the read rule of everything that shows entries (auth.ts). What an event holds is the reader's
 * business (the service reads the Redis stream); this module only speaks HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULTS } from '../base/defaults.js';
import { ErrorCode } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { authorizeRead } from './auth.js';
import type { HttpAccess } from './auth.js';
import { sendJson, sendRefusal } from './entries-routes.js';
import { ApiError, failureAnswer } from './failures.js';

export const AUDIT_PATH = '/api/audit';

/** An event as the API shows it: `id` (pass it as `before` for older ones), `at` (ISO), who, entry, action, changes, note, taskId. */
export interface ApiAuditEvent {
  readonly id: string;
  readonly at: string;
  readonly who: string;
  readonly entry: string;
  readonly action: string;
  readonly changes: readonly { readonly path: string; readonly before?: string; readonly after?: string }[];
  readonly note?: string;
  readonly taskId?: string;
  /** A bulk action's selector and the entries it touched (its `entry` is ''). */
  readonly selector?: string;
  readonly entries?: readonly string[];
}

/** Up to `limit` events older than `before`, newest first, of one entry or all. */
export type AuditReader = (query: { entry?: string; limit: number; before?: string }) => Promise<readonly ApiAuditEvent[]>;

function query(params: URLSearchParams): { entry?: string; limit: number; before?: string } {
  const limitText = params.get('limit');
  const limit = limitText === null ? DEFAULTS.auditPageDefault : Number(limitText);
  if (limitText !== null && (!/^\d+$/.test(limitText) || limit < 1 || limit > DEFAULTS.auditPageMax)) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `limit must be a whole number from 1 to ${DEFAULTS.auditPageMax}, got ${JSON.stringify(limitText.slice(0, 40))}`,
    );
  }
  const before = params.get('before');
  if (before !== null && !/^\d{1,15}-\d{1,15}$/.test(before)) {
    throw new ApiError(
      ErrorCode.ApiBadRequest,
      `before must be an event's id such as "1732370000000-0" (the "next" of the previous page), got ${JSON.stringify(before.slice(0, 40))}`,
    );
  }
  const entry = params.get('entry');
  return { limit, ...(entry === null || entry === '' ? {} : { entry }), ...(before === null ? {} : { before }) };
}

export async function serveAudit(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  reader: AuditReader | undefined,
  access: HttpAccess,
  session: boolean,
  logger: Logger,
): Promise<void> {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ApiError(ErrorCode.ApiMethodNotAllowed, 'the audit trail is read-only: use GET', { allow: 'GET, HEAD' });
    }
    const refusal = authorizeRead(req, access, session);
    if (refusal !== undefined) {
      sendRefusal(req, res, refusal, logger);
      return;
    }
    if (reader === undefined) throw new ApiError(ErrorCode.ApiNotFound, 'the audit trail is not served by this process');
    const asked = query(url.searchParams);
    const events = await reader(asked);
    const last = events[events.length - 1];
    sendJson(res, 200, { events, ...(events.length === asked.limit && last !== undefined ? { next: last.id } : {}) });
  } catch (error) {
    const answer = failureAnswer(error, req, logger);
    sendJson(res, answer.status, answer.body, answer.headers);
  }
  if (!req.complete) req.resume();
}
