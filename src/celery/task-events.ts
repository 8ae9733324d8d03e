/**
 * Celery's task events (celery/events/, sent by workers started with `-E` or
 * `worker_send_task_events`), decoded. Pure.
 *
 * A worker publishes each event to the `celeryev` exchange with the routing key of its type
 * (`task-succeeded` → `task.succeeded`), as a JSON object `{type, uuid, timestamp, hostname,
 * clock, utcoffset, pid, …}` with the type's own fields (celery/worker/request.py): `runtime` and
 * `result` for task-succeeded, `exception` (a repr) and `traceback` for task-failed and
 * task-retried, `terminated`, `signum`, `expired` for task-revoked. A worker with an event loop
 * buffers task events and sends them as a JSON list under `task.multi` (dispatcher.py `flush`):
 * both shapes are read.
 *
 * Workers also send `worker-online`, `worker-heartbeat` (every `freq` s, 2 by default) and
 * `worker-offline` (on a warm or cold shutdown, not when killed; a warm one sends it before its
 * running tasks end, and their task events after it) under `worker.online`, … with the same
 * `hostname` and `pid` as their task events (celery/worker/heartbeat.py, events/dispatcher.py),
 * even without `-E`; `active` counts the tasks it runs then.
 */
import { firstLine } from './result-meta.js';
import type { CeleryState } from './result-meta.js';

/** Celery's event exchange (`event_exchange`, celery/events/event.py). */
export const EVENT_EXCHANGE = 'celeryev';

/** One task event that says something about a run's state. */
export interface TaskEvent {
  readonly taskId: string;
  /** `task-started`, `task-succeeded`, … */
  readonly type: string;
  /** The run's state after it: STARTED, RETRY, SUCCESS, FAILURE, REVOKED. */
  readonly state: CeleryState;
  /** When the worker sent it (`timestamp`, the worker's clock), epoch ms. */
  readonly atMs: number;
  /** task-succeeded's `runtime`: the task's own run time as the worker measured it (ms). */
  readonly runtimeMs?: number;
  /** `Type: message`, first line (task-failed, task-retried), as the result backend's is shown. */
  readonly exception?: string;
  readonly hostname?: string;
  /** The worker's main process (every event of a worker carries its dispatcher's pid). */
  readonly pid?: number;
}

/** The event types that move a run's state; the others (task-received, task-sent, task-rejected, worker-*) are skipped. */
const STATES: Readonly<Record<string, CeleryState>> = {
  'task-started': 'STARTED',
  'task-retried': 'RETRY',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-revoked': 'REVOKED',
};

/** The task events in a decoded event body (one event, or the list of a `task.multi` flush); anything else is skipped. */
export function taskEventsOf(body: unknown): TaskEvent[] {
  const out: TaskEvent[] = [];
  for (const item of Array.isArray(body) ? body : [body]) {
    const event = taskEventOf(item);
    if (event !== undefined) out.push(event);
  }
  return out;
}

function taskEventOf(item: unknown): TaskEvent | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const { type, uuid, timestamp, runtime, exception, traceback, hostname, pid } = item as Record<string, unknown>;
  if (typeof type !== 'string' || typeof uuid !== 'string' || typeof timestamp !== 'number') return undefined;
  const state = STATES[type];
  if (state === undefined || !Number.isFinite(timestamp)) return undefined;
  // The repr names the exception (task-retried's is the cause, not the Retry of its traceback);
  // but task-failed's is often only `ExceptionWithTraceback()`, the wrapper a pool child sends
  // back: then the traceback's last block names it.
  const fromRepr = typeof exception === 'string' ? exceptionFromRepr(exception) : undefined;
  const line =
    fromRepr?.includes(': ') === true
      ? fromRepr
      : ((typeof traceback === 'string' ? exceptionFromTraceback(traceback) : undefined) ?? fromRepr);
  return {
    taskId: uuid,
    type,
    state,
    atMs: Math.round(timestamp * 1000),
    ...(typeof runtime === 'number' && Number.isFinite(runtime) && runtime >= 0 ? { runtimeMs: Math.round(runtime * 1000) } : {}),
    ...(line === undefined ? {} : { exception: line }),
    ...(typeof hostname === 'string' ? { hostname } : {}),
    ...(typeof pid === 'number' ? { pid } : {}),
  };
}

/** A worker's liveness event (worker-online, worker-heartbeat, worker-offline). */
export interface WorkerEvent {
  readonly type: 'worker-online' | 'worker-heartbeat' | 'worker-offline';
  readonly hostname: string;
  /** `freq`: the seconds between its heartbeats, in ms (absent or not positive: 2 s, Celery's default). */
  readonly freqMs: number;
  /** `active`: how many tasks it was running when it sent this. */
  readonly active: number;
  /** `pid`: its main process's (a new one when it was started again; the same across a broker reconnect). */
  readonly pid?: number;
}

/** What a task-event feed (ports/outcomes.ts TaskEventFeed) tells of the workers (outcomes/worker-liveness.ts). */
export interface WorkerEventHandlers {
  events(events: WorkerEvent[]): void;
  /** The feed (re)subscribed: what the workers sent while it was away is gone. */
  listening(): void;
}

const WORKER_TYPES: ReadonlySet<string> = new Set(['worker-online', 'worker-heartbeat', 'worker-offline']);

/** The workers' liveness events in a decoded event body (one event, or a list); anything else is skipped. */
export function workerEventsOf(body: unknown): WorkerEvent[] {
  const out: WorkerEvent[] = [];
  for (const item of Array.isArray(body) ? body : [body]) {
    if (item === null || typeof item !== 'object') continue;
    const { type, hostname, freq, active, pid } = item as Record<string, unknown>;
    if (typeof type !== 'string' || !WORKER_TYPES.has(type) || typeof hostname !== 'string') continue;
    out.push({
      type: type as WorkerEvent['type'],
      hostname,
      freqMs: typeof freq === 'number' && Number.isFinite(freq) && freq > 0 ? Math.round(freq * 1000) : 2000,
      active: typeof active === 'number' && Number.isFinite(active) ? active : 0,
      ...(typeof pid === 'number' ? { pid } : {}),
    });
  }
  return out;
}

/**
 * The exception's first line in a formatted Python traceback: the first line after the last
 * indented one (the frames are indented; the message may span lines), e.g.
 * `ValueError: boom: line one`. Undefined when there is none.
 */
export function exceptionFromTraceback(traceback: string): string | undefined {
  const lines = traceback.trimEnd().split('\n');
  let last = -1;
  lines.forEach((line, i) => {
    if (/^\s/.test(line)) last = i;
  });
  const line = lines[last + 1];
  return line === undefined || line === '' || line.startsWith('Traceback (') ? undefined : firstLine(line);
}

/**
 * `ValueError('boom: line one\nline two')` (the event's `safe_repr` of the exception) →
 * `ValueError: boom: line one`: the first line of what `Type: str(exc)` would print, the form the
 * result backend's outcome is shown in. A repr of another shape is kept as it is (first line).
 */
export function exceptionFromRepr(repr: string): string {
  const match = /^([A-Za-z_][\w.]*)\((.*)\)$/s.exec(repr.trim());
  let line = repr.trim();
  if (match !== null) {
    const type = match[1] as string;
    const args = (match[2] as string).trim();
    const single = args === '' ? '' : pythonString(args.replace(/,$/, ''));
    if (args === '') line = type;
    else if (single !== undefined) line = single === '' ? type : `${type}: ${single}`;
    else line = `${type}: ${args}`;
  }
  return firstLine(line);
}

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

/** A Python string literal as `repr()` writes it ('…' or "…", backslash escapes), or undefined when it is not exactly one. */
function pythonString(text: string): string | undefined {
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text.length < 2 || text[text.length - 1] !== quote) return undefined;
  let out = '';
  for (let i = 1; i < text.length - 1; i++) {
    const c = text[i] as string;
    if (c === quote) return undefined;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[i + 1] ?? '';
    const hex = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    if (hex > 0) {
      const code = Number.parseInt(text.slice(i + 2, i + 2 + hex), 16);
      if (Number.isNaN(code)) return undefined;
      out += String.fromCodePoint(code);
      i += 1 + hex;
    } else {
      out += ESCAPES[next] ?? `\\${next}`;
      i += 1;
    }
  }
  return out;
}
