/**
 * A run's record as `beat status`, `beat history` and `/status` show it: times in the entry's zone
 * (ISO with its offset), the runtime in seconds. Pure.
 */
import type { RunOrigin, RunPart, RunRecord, RunState } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';

export interface RunView {
  readonly taskId: string;
  readonly state: RunState;
  /** The slot the run stands for. */
  readonly slot: string;
  readonly publishedAt: string;
  /** When a worker was first seen running it (within a poll interval); null when no start was seen. */
  readonly startedAt: string | null;
  /** When it reached its final state; null while it has not. */
  readonly finishedAt: string | null;
  /** Seconds from publication (queue time included) to the finish; null until it finished. */
  readonly runtimeSeconds: number | null;
  /** The exception's first line (FAILURE, RETRY, REVOKED), else null. */
  readonly exception: string | null;
  /** How it was published: "schedule", "trigger" (beat trigger) or "backfill" (beat backfill). */
  readonly origin: 'schedule' | RunOrigin;
  /** Set when tsbeat revoked the run (its entry's overlap policy): cancelOther or terminateOther. */
  readonly revokedBy?: string;
  /** A canvas run's tasks, each with its state (absent for a run of one task). */
  readonly parts?: readonly PartView[];
  /** A canvas run's result once SUCCESS (a chain's last task's, a chord body's, a group's list), when kept. */
  readonly result?: unknown;
}

/** One task of a canvas run: where it is, its state, and what it gave (a kept result, or the exception it failed with). */
export interface PartView {
  readonly path: string;
  readonly task: string;
  readonly id: string;
  readonly state: RunState;
  /** Its result is (part of) the run's: a chain's last task, a chord's body, a group member's last task. */
  readonly final: boolean;
  /** A final part's result once it succeeded, when kept. */
  readonly result?: unknown;
  /** The exception's first line, for a part that failed or was revoked. */
  readonly exception?: string;
}

const partView = (p: RunPart): PartView => ({
  path: p.path,
  task: p.task,
  id: p.id,
  state: p.state,
  final: p.final,
  ...(p.result === undefined ? {} : { result: parsedResult(p.result) }),
  ...(p.exception === undefined ? {} : { exception: p.exception }),
});

export function runView(r: RunRecord, zone: string): RunView {
  return {
    taskId: r.taskId,
    state: r.state,
    slot: formatInstant(r.slotMs, zone),
    publishedAt: formatInstant(r.publishedAtMs, zone),
    startedAt: r.startedAtMs === undefined ? null : formatInstant(r.startedAtMs, zone),
    finishedAt: r.finishedAtMs === undefined ? null : formatInstant(r.finishedAtMs, zone),
    runtimeSeconds: r.runtimeMs === undefined || r.state === 'unknown' ? null : r.runtimeMs / 1000,
    exception: r.exception ?? null,
    origin: r.origin ?? 'schedule',
    ...(r.revokedBy === undefined ? {} : { revokedBy: r.revokedBy }),
    ...(r.result === undefined ? {} : { result: parsedResult(r.result) }),
    ...(r.parts === undefined ? {} : { parts: r.parts.map(partView) }),
  };
}

/** A kept result's JSON text as its value (text that is not JSON, as text: records are untrusted). */
function parsedResult(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** "SUCCESS 1.2s", "FAILURE 0.4s: ValueError: boom", "STARTED", "-" when nothing is known. */
export function outcomeText(v: RunView | null): string {
  if (v === null) return '-';
  const runtime = v.runtimeSeconds === null ? '' : ` ${formatSeconds(v.runtimeSeconds)}`;
  return `${stateText(v)}${runtime}${v.exception === null ? '' : `: ${v.exception}`}`;
}

/** The state, and who revoked the run when tsbeat did: "REVOKED (revoked by tsbeat, terminateOther)". */
export function stateText(v: Pick<RunView, 'state' | 'revokedBy'>): string {
  return v.revokedBy === undefined ? v.state : `${v.state} (revoked by tsbeat, ${v.revokedBy})`;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Number(s.toFixed(s < 10 ? 2 : 1))}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}
