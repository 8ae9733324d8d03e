/**
 * `beat status` as a terminal shows it (without --wide): the columns an operator reads at a glance,
 * with times relative to now ("in 3 m", "2 m ago"), each line within the terminal's width (io.ts
 * terminalColumns): the full table (14 columns of ISO instants, ~370 wide) wraps into noise on a
 * terminal; it is there with --wide, and every field is in --json.
 */
import type { DeploymentStatus } from '../control/status.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { entryStateText } from '../control/status.js';
import { relativeText } from './relative-time.js';
import { renderTable } from './table.js';

/** An ISO instant of the status relative to now; '-' for none. */
function when(iso: string | null, nowMs: number): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : relativeText(ms, nowMs);
}

/** The last run: its slot, or a manual run (beat trigger) marked so. */
function lastRun(e: EntryView, nowMs: number): string {
  if (e.lastRunBy === 'trigger' && e.lastPublishedAt !== null) return `${when(e.lastPublishedAt, nowMs)} (trigger)`;
  return when(e.lastSlot, nowMs);
}

/** The last outcome's state, and when the last failure was when it is not the newest run. */
function outcome(e: EntryView, nowMs: number): string {
  const state = e.lastOutcome?.state ?? '-';
  if (e.lastFailureAt === null || state === 'FAILURE') return state;
  return `${state} (failed ${when(e.lastFailureAt, nowMs)})`;
}

/** STATE, narrow: an unconsumed queue's reason is in the UNCONSUMED line below the table, not cut here. */
function narrowState(e: EntryView): string {
  const state = entryStateText(e);
  return e.unconsumed !== null && state.startsWith('UNCONSUMED:') ? 'UNCONSUMED' : state;
}

/** The deployment's line, the replicas and the entries, narrow. Warnings and problems are the caller's. */
export function narrowStatusLines(
  status: DeploymentStatus,
  withOutcomes: boolean,
  nowMs: number,
  columns: number,
): { leader: string; replicas: string | undefined; entries: string } {
  const leader = `deployment ${status.deployment}: ${
    status.leader
      ? `leader ${status.leader.instance} since ${when(status.leader.since, nowMs)}`
      : 'NO LEADER (no beat run instance holds the lock)'
  }`;
  const replicas =
    status.replicas.length === 0
      ? undefined
      : renderTable(
          ['REPLICA', 'ROLE', 'HOST', 'VERSION', 'STARTED', 'HEARTBEAT'],
          status.replicas.map((r) => [
            r.instance,
            r.role,
            r.host,
            r.version,
            when(r.startedAt, nowMs),
            relativeText(nowMs - r.heartbeatAgeMs, nowMs),
          ]),
          columns,
          [
            { column: 0, keep: 20 },
            { column: 2, keep: 12 },
          ],
        );
  const origins = status.entries.some((e) => e.origin !== 'file') || status.entryProblems.length > 0;
  const entries = renderTable(
    ['NAME', 'SCHEDULE', 'LAST RUN', 'NEXT RUN', 'STATE', ...(withOutcomes ? ['OUTCOME'] : []), ...(origins ? ['ORIGIN'] : [])],
    status.entries.map((e) => [
      e.name,
      e.schedule,
      lastRun(e, nowMs),
      when(e.nextRun, nowMs),
      narrowState(e),
      ...(withOutcomes ? [outcome(e, nowMs)] : []),
      ...(origins ? [e.origin] : []),
    ]),
    columns,
    // NAME, then STATE and OUTCOME, then SCHEDULE give way; the times are short already.
    [{ column: 0, keep: 20 }, { column: 1, keep: 36 }, { column: 4, keep: 12 }, ...(withOutcomes ? [{ column: 5, keep: 10 }] : [])],
  );
  return { leader, replicas, entries };
}
