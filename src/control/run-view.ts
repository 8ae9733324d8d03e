/**
 * A run's record as `beat status`, `beat history` and `/status` show it: times in the entry's zone
 * (ISO with its offset), the runtime in seconds. Its shape is control/entry-view-schema.ts's runViewSchema. Pure.
 */
import type * as z from 'zod';
import type { RunPart, RunRecord } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';
import type { runViewSchema } from './entry-view-schema.js';

export type RunView = z.infer<typeof runViewSchema>;
type PartView = NonNullable<RunView['parts']>[number];

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
