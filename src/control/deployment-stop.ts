/**
 * The deployment-wide stop (`beat pause --all`, `PUT /api/stop`, the dashboard's control): who set
 * it, when, and why. Its one stored format (the `stop` key, redis/keys.ts) and the words every view
 * says it with (`beat status`, /status, /readyz, the dashboard). Pure.
 */
import { storedObject } from '../base/stored-object.js';
import type { DeploymentStop } from '../ports/control-source.js';

export type { DeploymentStop };

/** The stop as /status and `beat status --json` give it. */
export interface DeploymentStopView {
  readonly by: string;
  /** ISO 8601. */
  readonly since: string;
  readonly note: string | null;
}

export function encodeDeploymentStop(stop: DeploymentStop): string {
  return JSON.stringify({ by: stop.by, at: stop.atMs, ...(stop.note === undefined ? {} : { note: stop.note }) });
}

/**
 * The stored stop, or a stop of unknown origin for a value tsbeat never writes: the key's existence
 * is what stops publishing (includes/stop.lua checks nothing else), so a garbled value is still a
 * stop, shown as one.
 */
export function decodeDeploymentStop(text: string): DeploymentStop {
  const { by, at, note } = storedObject(text) ?? {};
  if (typeof by === 'string' && typeof at === 'number' && Number.isFinite(at))
    return { by, atMs: at, ...(typeof note === 'string' ? { note } : {}) };
  return { by: 'unknown (the stop key holds a value tsbeat did not write)', atMs: 0 };
}

/**
 * The stop a key of another Redis type than tsbeat's string makes (`type` as TYPE names it, `size`
 * its items): the scripts stop on the key's existence whatever it holds, so it is a stop, named for
 * what it is. Something other than tsbeat wrote it (a message pushed onto it as if it were a queue),
 * and whatever it held was for no reader: `beat resume --all` deletes it.
 */
export function wrongTypedStop(type: string, size: number | undefined): DeploymentStop {
  const held = size === undefined ? `a ${type}` : `a ${type} of ${size} item${size === 1 ? '' : 's'}`;
  return { by: `unknown (the stop key holds ${held}, not the value tsbeat writes)`, atMs: 0 };
}

export function deploymentStopView(stop: DeploymentStop): DeploymentStopView {
  return { by: stop.by, since: stop.atMs > 0 ? new Date(stop.atMs).toISOString() : 'unknown', note: stop.note ?? null };
}

/** The one sentence every view says: stopped, by whom, since when, why, and how to resume. */
export function deploymentStopText(view: DeploymentStopView): string {
  const note = view.note === null ? '' : ` (note: ${view.note})`;
  return `DEPLOYMENT STOPPED by ${view.by} since ${view.since}${note}: no replica publishes anything; resume with 'beat resume --all'`;
}

/** Why a trigger or backfill is refused while the deployment is stopped. */
export function stoppedRefusal(action: string, view: DeploymentStopView): string {
  const note = view.note === null ? '' : ` (note: ${view.note})`;
  return `the deployment is stopped (beat pause --all by ${view.by} since ${view.since}${note}), so no ${action} is published; resume it with 'beat resume --all' first`;
}
