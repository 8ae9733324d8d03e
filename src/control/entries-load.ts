/**
 * The load of a set of resolved entries over the coming window (`beat check`, `beat plan`, the
 * dashboard's timeline), as core/load-count.ts counts it, and its report as every door shows it (JSON,
 * ISO instants). The count runs in slices on the caller's event loop, turned over whenever
 * DEFAULTS.writeCheckSliceMs of its work is done, as a plan's fires are (entry-plan.ts): `beat run`
 * counts on the scheduler's loop when asked over HTTP, and 100,000 entries take a second or more.
 */
import { DEFAULTS } from '../base/defaults.js';
import { WorkMeter } from '../base/work-meter.js';
import { entryWindow } from '../config/resolve.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { LoadCount } from '../core/load-count.js';
import type { Load, LoadEntry } from '../core/load-count.js';

/** What the load is counted of: an entry as resolved, and its next run when its runner holds one (core/load-count.ts's `nextMs`). */
export interface LoadInput {
  readonly entry: ResolvedEntry;
  readonly nextMs?: number | undefined;
}

/** The entry as the count takes it; undefined for one that does not run (disabled). */
export function loadEntryOf(entry: ResolvedEntry, nextMs?: number): LoadEntry | undefined {
  if (!entry.enabled) return undefined;
  return { schedule: entry.schedule, zone: entry.timezone, window: entryWindow(entry), nextMs, maxRuns: entry.maxRuns };
}

/** The runs of `inputs` that start after `afterMs` and before `afterMs + horizonMs`, counted in slices of the event loop. */
export async function entriesLoad(inputs: Iterable<LoadInput>, afterMs: number, horizonMs: number): Promise<Load> {
  const count = new LoadCount(afterMs, afterMs + horizonMs);
  const meter = new WorkMeter(Number.POSITIVE_INFINITY, DEFAULTS.writeCheckSliceMs);
  // The meter is read after every entry (two clock reads): one entry whose schedule spends its step
  // budget (exclusion lines that leave nothing) costs milliseconds, and sixty of them in one slice held
  // the loop 300 ms (api-stalls.test.ts's plan of sixty).
  for (const { entry, nextMs } of inputs) {
    const counted = loadEntryOf(entry, nextMs);
    if (counted === undefined) continue;
    meter.begin();
    count.add(counted);
    meter.end();
    await meter.pause();
  }
  return count.result();
}

/** A busiest minute or second as a report shows it. */
export interface LoadPeakReport {
  readonly at: string;
  readonly runs: number;
}

/** A load as every door shows it (`--json`, the API, the page): instants in ISO-8601 UTC. */
export interface LoadReport {
  /** The first minute counted and the window's end. */
  readonly from: string;
  readonly to: string;
  readonly total: number;
  /** Runs starting in each minute from `from`. */
  readonly perMinute: readonly number[];
  readonly peakMinute: LoadPeakReport;
  readonly peakSecond: LoadPeakReport;
  /** Entries some of whose runs were not counted (they fire too often for the count's budget). */
  readonly capped: number;
}

export function loadReport(load: Load): LoadReport {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    from: iso(load.startMs),
    to: iso(load.endMs),
    total: load.total,
    perMinute: load.perMinute,
    peakMinute: { at: iso(load.peakMinute.atMs), runs: load.peakMinute.runs },
    peakSecond: { at: iso(load.peakSecond.atMs), runs: load.peakSecond.runs },
    capped: load.capped,
  };
}
