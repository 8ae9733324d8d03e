/**
 * The audit trail's events and the field diff they carry: who changed which entry, when, how, and
 * why (the note). Pure: the Redis stream that keeps them is redis/audit-log.ts.
 */
import { maskAlertUrlsInText, redactText } from '../base/redact.js';
import type { AuditAction } from './audit-event-view.js';

/** One field of an entry definition that changed: its path (`options.queue`) and the values, shortened. */
export interface FieldChange {
  readonly path: string;
  /** Absent: the field was added. */
  readonly before?: string;
  /** Absent: the field was removed. */
  readonly after?: string;
}

export interface AuditEvent {
  /** The stream entry's id (`<ms>-<seq>`), once stored; pass it as `before` to read older events. */
  readonly id?: string;
  readonly atMs: number;
  /** A token's name, `dashboard:<token name>`, or `user@host` for the CLI and the client. */
  readonly who: string;
  /** The grant that allowed it (core/grants.ts, `editor@team=billing`); absent for the CLI, which holds every role. */
  readonly grant?: string;
  readonly entry: string;
  readonly action: AuditAction;
  readonly changes: readonly FieldChange[];
  readonly note?: string;
  /** A manual run's task id (trigger), or a backfill request's id. */
  readonly taskId?: string;
  /**
   * A bulk action's label selector (`-l`, the API's `selector`): the event is the action's one
   * record, its `entry` is '' and `entries` names every entry it touched.
   */
  readonly selector?: string;
  readonly entries?: readonly string[];
  /**
   * A bulk dead-letter replay's or discard's item ids, the first AUDIT_ITEMS_MAX of them (in the
   * list's order); `itemCount` says how many there were when it is more.
   */
  readonly items?: readonly string[];
  readonly itemCount?: number;
}

/** The item ids a bulk dead-letter event names: enough to find them, bounded so that one event stays small. */
export const AUDIT_ITEMS_MAX = 100;

/** Whether `event` concerns `entry`: names it, or is a bulk action that touched it. */
export function auditConcerns(event: AuditEvent, entry: string): boolean {
  return event.entry === entry || (event.entries?.includes(entry) ?? false);
}

/** A value in a change is cut to this many characters: the trail says what changed, not every byte of it. */
export const AUDIT_VALUE_MAX = 120;
/** At most this many changes per event; one more says how many were left out. */
export const AUDIT_CHANGES_MAX = 50;
/** Objects are compared field by field down to this depth (`options.queue`); deeper, and arrays, as whole values. */
const DIFF_DEPTH = 3;
/** A note is cut to this many characters. */
export const AUDIT_NOTE_MAX = 500;

export function shortValue(value: unknown): string {
  // Masked before it is cut: a cut could leave half a password where the mask would not find it.
  const text = redactText(value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value)));
  return text.length <= AUDIT_VALUE_MAX ? text : `${text.slice(0, AUDIT_VALUE_MAX - 1)}…`;
}

/**
 * A change with the URLs in its values shown as alert receivers' (maskAlertUrlsInText: their secret
 * is in the path, which redactText keeps) when it is a change of an `alerts` object, whose only URLs
 * are its webhook and ping: the URL itself (`alerts.webhook`) or the whole object (`alerts`). The
 * trail's reader applies it too: events stored before the paths were masked still hold them.
 */
export function alertUrlsMasked(change: FieldChange): FieldChange {
  if (!change.path.split('.').includes('alerts')) return change;
  return {
    ...change,
    ...(typeof change.before === 'string' ? { before: maskAlertUrlsInText(change.before) } : {}),
    ...(typeof change.after === 'string' ? { after: maskAlertUrlsInText(change.after) } : {}),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** The value with object keys sorted, so that two spellings of one definition compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical(value[k])]),
  );
}

/**
 * What changed from one entry definition to the next (undefined: none, before a create or after a
 * delete): fields added, removed and changed, by path, in path order.
 */
export function entryDiff(before: unknown, after: unknown): FieldChange[] {
  const out: FieldChange[] = [];
  walk(before, after, '', 0, out);
  if (out.length <= AUDIT_CHANGES_MAX) return out;
  const left = out.length - AUDIT_CHANGES_MAX;
  return [...out.slice(0, AUDIT_CHANGES_MAX), { path: '…', after: `${left} more change${left === 1 ? '' : 's'}` }];
}

function walk(before: unknown, after: unknown, path: string, depth: number, out: FieldChange[]): void {
  if (
    (path === '' || depth < DIFF_DEPTH) &&
    (isPlainObject(before) || before === undefined) &&
    (isPlainObject(after) || after === undefined)
  ) {
    const a = before ?? {};
    const b = after ?? {};
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) walk(a[key], b[key], path === '' ? key : `${path}.${key}`, depth + 1, out);
    return;
  }
  if (before === undefined && after === undefined) return;
  if (before !== undefined && after !== undefined && sameJson(before, after)) return;
  out.push(
    alertUrlsMasked({
      path,
      ...(before === undefined ? {} : { before: shortValue(before) }),
      ...(after === undefined ? {} : { after: shortValue(after) }),
    }),
  );
}

/** A note as recorded: trimmed, cut to AUDIT_NOTE_MAX; undefined when empty. */
export function auditNote(text: string | undefined): string | undefined {
  const trimmed = text?.trim();
  if (trimmed === undefined || trimmed === '') return undefined;
  return trimmed.length <= AUDIT_NOTE_MAX ? trimmed : `${trimmed.slice(0, AUDIT_NOTE_MAX - 1)}…`;
}

/** One change in words: `options.queue: "a" → "b"`, `+kwargs: {…}`, `-jitter: 5`. */
export function changeText(change: FieldChange): string {
  if (change.before === undefined) return `+${change.path}: ${change.after ?? ''}`;
  if (change.after === undefined) return `-${change.path}: ${change.before}`;
  return `${change.path}: ${change.before} → ${change.after}`;
}
