/**
 * The dashboard's reads of what happened, for the entries named (a page of the list, the strips on
 * screen): their histories as results, and their past day or hour as strips. Over the sources the
 * service hands over; the derivations are run-results.ts's and day-strip.ts's.
 */
import { DEFAULTS } from '../base/defaults.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { STRIP_SPANS, dayStrip, stripStart } from './day-strip.js';
import type { MissedSlotsReport } from './day-strip.js';
import type { DashboardSources } from './sources.js';
import { resultOf } from './run-results.js';
import type { ResultWire, StripsWire } from './wire.js';

type Sources = Pick<DashboardSources, 'runs' | 'missed' | 'now' | 'finished' | 'status'>;

/** The results of `names` (those on screen: their summaries and kept histories), by name; undefined when the deployment keeps none. */
export async function resultsOf(
  sources: Sources,
  byName: ReadonlyMap<string, ResolvedEntry>,
  names: readonly string[],
): Promise<Map<string, ResultWire> | undefined> {
  const [runs, finished] = await Promise.all([sources.runs?.(names, DEFAULTS.runHistoryLength), sources.finished?.(names)]);
  if (runs === undefined) return undefined;
  const out = new Map<string, ResultWire>();
  for (const name of names) {
    const entry = byName.get(name);
    if (entry !== undefined) out.set(name, resultOf(runs.get(name) ?? [], entry.timezone, finished?.get(name)));
  }
  return out;
}

/** The past day or hour of the named entries (those on screen; names not in force are left out). */
export async function stripsOf(
  sources: Sources,
  byName: ReadonlyMap<string, ResolvedEntry>,
  names: readonly string[],
  span: 'day' | 'hour',
): Promise<StripsWire> {
  const known = names.filter((n) => byName.has(n));
  const [runs, missed, status] = await Promise.all([
    sources.runs?.(known, DEFAULTS.runHistoryLength),
    sources.missed?.(known) ?? new Map<string, readonly MissedSlotsReport[]>(),
    // Which of them publish to a queue flagged unconsumed: their pending runs wait, they do not run.
    sources.status(known),
  ]);
  const nowMs = sources.now();
  const { cells, bucketMs } = STRIP_SPANS[span];
  const startMs = stripStart(nowMs, cells, bucketMs);
  const strips: Record<string, ReturnType<typeof dayStrip>> = {};
  for (const name of known) {
    const entry = byName.get(name);
    if (entry === undefined) continue;
    const unconsumed = (status.get(name)?.unconsumed ?? null) !== null;
    strips[name] = dayStrip(entry, runs?.get(name) ?? [], missed.get(name) ?? [], startMs, cells, bucketMs, unconsumed);
  }
  return { nowMs, startMs, bucketMs, cells, strips, outcomes: runs !== undefined };
}
