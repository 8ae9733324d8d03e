/**
 * The status of a deployment, as `/status` and `beat status` show it: who leads, and every entry
 * with its schedule, last run, next run and paused flag. Pure: the caller reads Redis.
 */
import type { ResolvedConfig } from '../config/resolve.js';
import type { ConfigFingerprint } from './fingerprint.js';
import { skipThrough } from '../core/due.js';
import { describeSchedule, nextFires } from '../core/schedule.js';
import { formatInstant } from '../time/zone.js';
import type { EntryState } from '../ports/state.js';
import type { RunRecord } from '../ports/outcomes.js';
import { runView } from './run-view.js';
import type { RunView } from './run-view.js';

export interface LeaderInfo {
  readonly instance: string;
  readonly sinceMs: number;
  /** The config the leader runs (absent for a leader that published none). */
  readonly fingerprint?: ConfigFingerprint;
}

export interface EntryStatus {
  readonly name: string;
  readonly task: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly paused: boolean;
  /** The last scheduled slot published, ISO with the entry's offset; null before the first run. */
  readonly lastSlot: string | null;
  readonly lastPublishedAt: string | null;
  readonly lastTaskId: string | null;
  /**
   * What the last run was: the slot `lastSlot` ('schedule'), or a manual run published at
   * `lastPublishedAt` ('trigger', which leaves `lastSlot` as it was); null before any run.
   */
  readonly lastRunBy: 'schedule' | 'trigger' | null;
  readonly runCount: number;
  /** The next slot; null when disabled, paused, or the schedule has run out. */
  readonly nextRun: string | null;
  /** The newest run's outcome, from the entry's history; null without a resultBackend or before the first run. */
  readonly lastOutcome: RunView | null;
}

export interface DeploymentStatus {
  readonly deployment: string;
  readonly now: string;
  /** This process: a running instance, or the CLI asking. */
  readonly self: { readonly instance: string; readonly role: 'leader' | 'standby' | 'cli' };
  /** The instance holding the lock, or null when none does. */
  readonly leader: { readonly instance: string; readonly since: string } | null;
  /**
   * What keeps this deployment from working as configured, each with its fix: a config that
   * differs from the leader's, a lock key tsbeat did not write.
   */
  readonly warnings: readonly string[];
  readonly entries: readonly EntryStatus[];
}

export interface StatusInput {
  readonly config: ResolvedConfig;
  readonly states: ReadonlyMap<string, EntryState>;
  readonly paused: ReadonlySet<string>;
  readonly leader: LeaderInfo | undefined;
  readonly self: DeploymentStatus['self'];
  readonly nowMs: number;
  readonly warnings?: readonly string[];
  /** Each entry's newest run from its history (run outcomes); absent without a resultBackend. */
  readonly outcomes?: ReadonlyMap<string, RunRecord>;
}

function lastRunBy(state: EntryState | undefined): EntryStatus['lastRunBy'] {
  if (state?.publishedAtMs === undefined) return null;
  // A publish time without a slot can only be a manual run's, whether or not the state marks it.
  return state.lastRunTriggered === true || state.slotMs === undefined ? 'trigger' : 'schedule';
}

const lastOutcome = (record: RunRecord | undefined, zone: string): RunView | null => (record === undefined ? null : runView(record, zone));

export function buildStatus(input: StatusInput): DeploymentStatus {
  const { config, states, paused, nowMs } = input;
  const entries = config.entries.map((entry): EntryStatus => {
    const state = states.get(entry.name);
    const zone = entry.timezone;
    const isPaused = paused.has(entry.name);
    const lastOrSeen = state?.slotMs ?? state?.seenMs ?? nowMs;
    const anchor = state?.resumedAtMs === undefined ? lastOrSeen : skipThrough(entry.schedule, zone, lastOrSeen, state.resumedAtMs);
    const next = entry.enabled && !isPaused ? nextFires(entry.schedule, { zone, afterMs: anchor, anchorMs: anchor }, 1)[0] : undefined;
    return {
      name: entry.name,
      task: entry.task,
      schedule: describeSchedule(entry.schedule, zone),
      timezone: zone,
      enabled: entry.enabled,
      paused: isPaused,
      lastSlot: state?.slotMs === undefined ? null : formatInstant(state.slotMs, zone),
      lastPublishedAt: state?.publishedAtMs === undefined ? null : formatInstant(state.publishedAtMs, zone),
      lastTaskId: state?.lastTaskId ?? null,
      lastRunBy: lastRunBy(state),
      runCount: state?.runCount ?? 0,
      nextRun: next === undefined ? null : formatInstant(next, zone),
      lastOutcome: lastOutcome(input.outcomes?.get(entry.name), zone),
    };
  });
  return {
    deployment: config.name,
    now: formatInstant(nowMs, 'UTC'),
    self: input.self,
    leader: input.leader ? { instance: input.leader.instance, since: formatInstant(input.leader.sinceMs, 'UTC') } : null,
    warnings: input.warnings ?? [],
    entries,
  };
}
