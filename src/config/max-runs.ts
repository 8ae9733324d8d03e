/**
 * "maxRuns reached", the one rule the leader (EntryBook), `beat status` and /status count by: an
 * entry with `maxRuns` (`oneOff` is 1) has finished once its scheduled runs reach it, and runs no
 * more unless maxRuns is raised. Manual runs (`beat trigger`) do not count.
 */
import type { ResolvedEntry } from './resolve.js';

/** True when `scheduledRuns` (runs counted less manual ones) reached the entry's maxRuns. */
export function isFinished(entry: Pick<ResolvedEntry, 'maxRuns'>, scheduledRuns: number): boolean {
  return entry.maxRuns !== undefined && scheduledRuns >= entry.maxRuns;
}
