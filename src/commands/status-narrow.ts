/**
 * `beat status` as a terminal shows it (without --wide): the columns an operator reads at a glance,
 * with times relative to now ("in 3 m", "2 m ago"), each line within DEFAULTS.statusColumns: the
 * full table (14 columns of ISO instants, ~370 wide) wraps into noise on a terminal; it is there
 * with --wide, and every field is in --json.
 */
import { DEFAULTS } from '../base/defaults.js';
import { terminalField } from '../base/terminal-text.js';
import type { DeploymentStatus, EntryStatus } from '../control/status.js';
import { entryStateText } from '../control/status.js';
import { maxOf } from '../base/chunks.js';

/** "in 45 s", "in 3 m", "2 h ago", "in 4 d": the whole unit below the next one, as a glance needs. */
export function relativeText(atMs: number, nowMs: number): string {
  const ms = atMs - nowMs;
  const abs = Math.abs(ms);
  const amount =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.floor(abs / 60_000)} m`
        : abs < 2 * 86_400_000
          ? `${Math.floor(abs / 3_600_000)} h`
          : `${Math.floor(abs / 86_400_000)} d`;
  if (amount === '0 s') return 'now';
  return ms > 0 ? `in ${amount}` : `${amount} ago`;
}

/** An ISO instant of the status relative to now; '-' for none. */
function when(iso: string | null, nowMs: number): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : relativeText(ms, nowMs);
}

/** The last run: its slot, or a manual run (beat trigger) marked so. */
function lastRun(e: EntryStatus, nowMs: number): string {
  if (e.lastRunBy === 'trigger' && e.lastPublishedAt !== null) return `${when(e.lastPublishedAt, nowMs)} (trigger)`;
  return when(e.lastSlot, nowMs);
}

/** The last outcome's state, and when the last failure was when it is not the newest run. */
function outcome(e: EntryStatus, nowMs: number): string {
  const state = e.lastOutcome?.state ?? '-';
  if (e.lastFailureAt === null || state === 'FAILURE') return state;
  return `${state} (failed ${when(e.lastFailureAt, nowMs)})`;
}

/** A cell cut to `width` characters, the cut marked with "…". */
function clip(cell: string, width: number): string {
  return cell.length <= width ? cell : `${cell.slice(0, Math.max(0, width - 1))}…`;
}

/** The least width a column is cut to: first down to `keep` (what is worth keeping of it), then to 8. */
const LEAST_WIDTH = 8;

/**
 * A table whose lines fit `columns`: while too wide, the widest of the `shrinkable` columns still
 * over its `keep` loses a character, then, with all at their `keep`, the widest over 8; its cells
 * are cut with "…". The last column is not padded.
 */
export function fittedTable(
  header: readonly string[],
  rawRows: readonly (readonly string[])[],
  shrinkable: readonly { readonly column: number; readonly keep: number }[],
  columns: number,
): string[] {
  const rows = rawRows.map((r) => r.map(terminalField));
  const widths = header.map((h, i) => maxOf([h.length, ...rows.map((r) => (r[i] ?? '').length)]));
  const total = (): number => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
  const widestOver = (least: (keep: number) => number): number | undefined => {
    let widest: number | undefined;
    for (const { column, keep } of shrinkable) {
      const width = widths[column] ?? 0;
      if (width > least(keep) && (widest === undefined || width > (widths[widest] ?? 0))) widest = column;
    }
    return widest;
  };
  while (total() > columns) {
    const widest = widestOver((keep) => Math.max(keep, LEAST_WIDTH)) ?? widestOver(() => LEAST_WIDTH);
    if (widest === undefined) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const cut = clip(cell, widths[i] ?? 0);
        return i === cells.length - 1 ? cut : cut.padEnd(widths[i] ?? 0);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The deployment's line, the replicas and the entries, narrow. Warnings and problems are the caller's. */
export function narrowStatusLines(
  status: DeploymentStatus,
  withOutcomes: boolean,
  nowMs: number,
  columns: number = DEFAULTS.statusColumns,
): { leader: string; replicas: string[]; entries: string[] } {
  const leader = `deployment ${status.deployment}: ${
    status.leader
      ? `leader ${status.leader.instance} since ${when(status.leader.since, nowMs)}`
      : 'NO LEADER (no beat run instance holds the lock)'
  }`;
  const replicas =
    status.replicas.length === 0
      ? []
      : fittedTable(
          ['REPLICA', 'ROLE', 'HOST', 'VERSION', 'STARTED', 'HEARTBEAT'],
          status.replicas.map((r) => [
            r.instance,
            r.role,
            r.host,
            r.version,
            when(r.startedAt, nowMs),
            relativeText(nowMs - r.heartbeatAgeMs, nowMs),
          ]),
          [
            { column: 0, keep: 20 },
            { column: 2, keep: 12 },
          ],
          columns,
        );
  const origins = status.entries.some((e) => e.origin !== 'file') || status.entryProblems.length > 0;
  const entries = fittedTable(
    ['NAME', 'SCHEDULE', 'LAST RUN', 'NEXT RUN', 'STATE', ...(withOutcomes ? ['OUTCOME'] : []), ...(origins ? ['ORIGIN'] : [])],
    status.entries.map((e) => [
      e.name,
      e.schedule,
      lastRun(e, nowMs),
      when(e.nextRun, nowMs),
      entryStateText(e),
      ...(withOutcomes ? [outcome(e, nowMs)] : []),
      ...(origins ? [e.origin] : []),
    ]),
    // NAME, then STATE and OUTCOME, then SCHEDULE give way; the times are short already.
    [{ column: 0, keep: 20 }, { column: 1, keep: 36 }, { column: 4, keep: 12 }, ...(withOutcomes ? [{ column: 5, keep: 10 }] : [])],
    columns,
  );
  return { leader, replicas, entries };
}
