/**
 * The dashboard's reads (/ui/api/…) and /api's verbs, which the page calls with its session: the
 * session's CSRF token goes back in every write.
 */
import type { ErrorWire } from '../dashboard/wire.js';

let csrf: string | null = null;

export function setCsrf(token: string | null): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorWire,
  ) {
    super(body.error);
  }
}

async function call<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { ...extra, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = { error: text, code: 'not_json' };
  }
  if (!res.ok) {
    const err = parsed as Partial<ErrorWire> | null;
    throw new ApiError(res.status, {
      error: typeof err?.error === 'string' ? err.error : `${res.status} ${res.statusText}`,
      code: typeof err?.code === 'string' ? err.code : String(res.status),
      ...(Array.isArray(err?.problems) ? { problems: err.problems } : {}),
    });
  }
  return parsed as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> =>
  call<T>('POST', path, body ?? {}, headers);
/** A note for the audit trail in X-Beat-Note, for a verb whose body has no room for one (/api/apply). */
export const noteHeader = (note: string): Record<string, string> => (note === '' ? {} : { 'x-beat-note': encodeURIComponent(note) });
export const put = <T>(path: string, body: unknown): Promise<T> => call<T>('PUT', path, body);
export const del = <T>(path: string, body?: unknown): Promise<T> => call<T>('DELETE', path, body);

/** An entry's page (the dashboard's read model). */
export const entryPath = (name: string): string => `/ui/api/entries/${encodeURIComponent(name)}`;
/** An entry in /api: its writes, verbs and backfills. */
export const apiEntryPath = (name: string): string => `/api/entries/${encodeURIComponent(name)}`;
