/**
 * The format of one run in an entry's history list (`<prefix>:{<name>}:runs:<entry>`, keys.ts):
 * compact JSON
 *   {"id": task id, "slot": epoch ms, "pub": epoch ms, "st": state,
 *    "start"?: epoch ms, "done"?: epoch ms, "rt"?: runtime ms, "exc"?: the exception's first line,
 *    "origin"?: "trigger" | "backfill" (how it was published; absent: by its schedule, as on older records),
 *    "rvk"?: the overlap policy by which tsbeat revoked it,
 *    "lost"?: 1 when given up at outcomeTimeout, "att"?: a retry's attempt (2 or more) and "of": its slot's first task id,
 *    "parts"?: a canvas run's tasks, each [path, task name, task id, state, 1 when final else 0,
 *              and for a final part that succeeded, its result's JSON text; for a part that
 *              failed, null there and then its exception's first line],
 *    "res"?: a canvas run's result, JSON text}
 * Records written before "parts" decode as runs of one task; a part that is not such a row is
 * dropped, the run kept.
 * lua/run-history.lua reads "id" and "st" of the records it compares; nothing else reads them.
 */
import type { FinishedRuns, RunPart, RunRecord, RunState } from '../ports/outcomes.js';
import { storedObject } from '../base/stored-object.js';

const STATES: ReadonlySet<string> = new Set<RunState>(['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'unknown']);

export function encodeRun(r: RunRecord): string {
  const out: Record<string, unknown> = { id: r.taskId, slot: r.slotMs, pub: r.publishedAtMs, st: r.state };
  if (r.startedAtMs !== undefined) out['start'] = r.startedAtMs;
  if (r.finishedAtMs !== undefined) out['done'] = r.finishedAtMs;
  if (r.runtimeMs !== undefined) out['rt'] = r.runtimeMs;
  if (r.exception !== undefined) out['exc'] = r.exception;
  if (r.origin !== undefined) out['origin'] = r.origin;
  if (r.revokedBy !== undefined) out['rvk'] = r.revokedBy;
  if (r.lost === true) out['lost'] = 1;
  if (r.attempt !== undefined) out['att'] = r.attempt;
  if (r.retryOf !== undefined) out['of'] = r.retryOf;
  if (r.parts !== undefined)
    out['parts'] = r.parts.map((p) => [
      p.path,
      p.task,
      p.id,
      p.state,
      p.final ? 1 : 0,
      ...(p.exception !== undefined ? [p.result ?? null, p.exception] : p.result === undefined ? [] : [p.result]),
    ]);
  if (r.result !== undefined) out['res'] = r.result;
  return JSON.stringify(out);
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A stored record, or undefined for a value that is not one (it is skipped, not fatal). */
export function decodeRun(text: string): RunRecord | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const slotMs = num(o['slot']);
  const publishedAtMs = num(o['pub']);
  if (typeof o['id'] !== 'string' || slotMs === undefined || publishedAtMs === undefined) return undefined;
  if (typeof o['st'] !== 'string' || !STATES.has(o['st'])) return undefined;
  const startedAtMs = num(o['start']);
  const finishedAtMs = num(o['done']);
  const runtimeMs = num(o['rt']);
  const attempt = num(o['att']);
  return {
    taskId: o['id'],
    slotMs,
    publishedAtMs,
    state: o['st'] as RunState,
    ...(startedAtMs === undefined ? {} : { startedAtMs }),
    ...(finishedAtMs === undefined ? {} : { finishedAtMs }),
    ...(runtimeMs === undefined ? {} : { runtimeMs }),
    ...(typeof o['exc'] === 'string' ? { exception: o['exc'] } : {}),
    // Another value (a newer tsbeat's) reads as none: the run is shown, not dropped.
    ...(o['origin'] === 'trigger' || o['origin'] === 'backfill' ? { origin: o['origin'] } : {}),
    ...(o['rvk'] === 'cancelOther' || o['rvk'] === 'terminateOther' ? { revokedBy: o['rvk'] } : {}),
    ...(o['lost'] === 1 ? { lost: true as const } : {}),
    ...(attempt !== undefined && Number.isInteger(attempt) && attempt >= 2 && typeof o['of'] === 'string'
      ? { attempt, retryOf: o['of'] }
      : {}),
    ...(typeof o['res'] === 'string' ? { result: o['res'] } : {}),
    ...(Array.isArray(o['parts']) ? { parts: o['parts'].map(decodePart).filter((p) => p !== undefined) } : {}),
  };
}

function decodePart(v: unknown): RunPart | undefined {
  if (!Array.isArray(v)) return undefined;
  const [path, task, id, state, final, result, exception] = v as unknown[];
  if (typeof path !== 'string' || typeof task !== 'string' || typeof id !== 'string') return undefined;
  if (typeof state !== 'string' || !STATES.has(state)) return undefined;
  return {
    path,
    task,
    id,
    state: state as RunState,
    final: final === 1,
    ...(typeof result === 'string' ? { result } : {}),
    ...(typeof exception === 'string' ? { exception } : {}),
  };
}

/**
 * An entry's summary in the finished hash (`<prefix>:{<name>}:finished`, written by
 * lua/run-history.lua): JSON {"last": a record's JSON as a string, "ok"?: epoch ms, "fail"?: epoch ms},
 * with the count of the failures hash. Undefined for a value that is not one.
 */
export function decodeFinished(text: string, failures: string | null | undefined): FinishedRuns | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const last = typeof o['last'] === 'string' ? decodeRun(o['last']) : undefined;
  if (last === undefined) return undefined;
  const ok = num(o['ok']);
  const fail = num(o['fail']);
  return {
    last,
    ...(ok === undefined || ok === 0 ? {} : { lastSuccessMs: ok }),
    ...(fail === undefined || fail === 0 ? {} : { lastFailureMs: fail }),
    failureStreak: failures === null || failures === undefined ? 0 : Number(failures) || 0,
  };
}
