/**
 * Celery's task result as a key-value result backend stores it (celery/backends/base.py,
 * `BaseKeyValueStoreBackend`): the key `<global_keyprefix>celery-task-meta-<task id>` holds the
 * serialized meta `{"status", "result", "traceback", "children", "date_done", "task_id", …}`.
 * Pure: key names and the meta's decoding.
 */

/** Celery's built-in task states (celery/states.py) that a result backend stores. */
export type CeleryState = 'PENDING' | 'STARTED' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

/** What a result backend says of one task. `unknown`: a value tsbeat cannot read. */
export interface ResultMeta {
  readonly state: CeleryState | 'unknown';
  /** `date_done` (epoch ms), for final states. */
  readonly doneAtMs?: number;
  /** The exception's first line, for FAILURE, RETRY and REVOKED. */
  readonly exception?: string;
  /** The task's return value, for SUCCESS (JSON, as decoded). */
  readonly result?: unknown;
}

export const TASK_KEY_PREFIX = 'celery-task-meta-';

/**
 * The prefix of task result keys: `result_backend_transport_options.global_keyprefix`, followed by
 * "_" unless it already ends in one of ":_-.", then `celery-task-meta-` (`_add_global_keyprefix`).
 */
export function taskKeyPrefix(globalKeyprefix: string | undefined): string {
  return withGlobalKeyprefix(globalKeyprefix, TASK_KEY_PREFIX);
}

/** Group results' keys (`celery-taskset-meta-<group id>`, a chord's size under `<…>.s`), prefixed as taskKeyPrefix. */
export function groupKeyPrefix(globalKeyprefix: string | undefined): string {
  return withGlobalKeyprefix(globalKeyprefix, 'celery-taskset-meta-');
}

function withGlobalKeyprefix(globalKeyprefix: string | undefined, prefix: string): string {
  if (globalKeyprefix === undefined || globalKeyprefix === '') return prefix;
  const sep = ':_-.'.includes(globalKeyprefix.slice(-1)) ? '' : '_';
  return `${globalKeyprefix}${sep}${prefix}`;
}

const STATES: ReadonlySet<string> = new Set(['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED']);

/**
 * `date_done`: `datetime.isoformat()` of a UTC time, with an offset since Celery 5.3 and without
 * one before (naive, meaning UTC).
 */
export function parseDateDone(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const zoned = /(?:Z|[+-]\d{2}:\d{2})$/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : ms;
}

/** `ValueError: the message`, one line: what `str()` of the exception would start with. */
export function exceptionLine(result: unknown, traceback: unknown): string | undefined {
  if (result !== null && typeof result === 'object' && 'exc_type' in result) {
    const { exc_type: type, exc_message: args } = result as { exc_type: unknown; exc_message: unknown };
    let message: string;
    if (Array.isArray(args)) message = args.length === 0 ? '' : args.length === 1 ? text(args[0]) : JSON.stringify(args);
    else message = args === undefined || args === null ? '' : text(args);
    const line = message === '' ? String(type) : `${String(type)}: ${message}`;
    return firstLine(line);
  }
  // Another shape (a custom serializer's): the traceback's last line names the exception.
  if (typeof traceback === 'string') {
    const lines = traceback.trimEnd().split('\n');
    return firstLine(lines[lines.length - 1] ?? '');
  }
  return undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const MAX_LINE = 500;
/** The first line of a text, cut to MAX_LINE characters. */
export const firstLine = (s: string): string => {
  const line = s.split('\n', 1)[0] ?? '';
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
};

/**
 * A stored meta → what tsbeat keeps of it. JSON only (`result_serializer = 'json'`, Celery's
 * default): a value of another serializer says nothing readable, and is answered as `unknown`
 * with the reason, rather than polled for ever.
 */
export function decodeResultMeta(raw: string): ResultMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch {
    return { state: 'unknown', exception: 'the result is not JSON: tsbeat reads results of result_serializer "json" only' };
  }
  if (meta === null || typeof meta !== 'object') return { state: 'unknown', exception: 'the result is not a Celery task meta' };
  const { status, result, traceback, date_done: dateDone } = meta as Record<string, unknown>;
  // A custom state (update_state(state='PROGRESS')) is a run still going.
  const state: CeleryState = typeof status === 'string' && STATES.has(status) ? (status as CeleryState) : 'STARTED';
  const doneAtMs = parseDateDone(dateDone);
  const exception = state === 'FAILURE' || state === 'RETRY' || state === 'REVOKED' ? exceptionLine(result, traceback) : undefined;
  return {
    state,
    ...(doneAtMs === undefined ? {} : { doneAtMs }),
    ...(exception === undefined ? {} : { exception }),
    ...(state === 'SUCCESS' && result !== undefined ? { result } : {}),
  };
}
