/**
 * A deployment's config fingerprint: the leader publishes it with its leader record, so that a
 * replica or a CLI with a different config (most often a second deployment left on the default
 * `name` on the same Redis, whose entries then never run) can say so instead of failing silently.
 * Two hashes: of the sorted entry names (which entries exist) and of everything that shapes what is
 * published (entries with their schedules and options, routing, protocol).
 */
import { createHash } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolve.js';

export interface ConfigFingerprint {
  /** Hash of everything that shapes the published messages. */
  readonly configHash: string;
  /** Hash of the sorted entry names. */
  readonly entriesHash: string;
  readonly entryCount: number;
  /** The sorted entry names; undefined when the leader had too many to publish them. */
  readonly entryNames: readonly string[] | undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * JSON with object keys sorted, so that the same config read from YAML or JSON hashes the same.
 * The text is JSON.stringify's of a copy with sorted keys: a replacer that sorted each object took
 * a third longer at a start with 10,000 entries (~140 ms), and the entries of one cron expression
 * share its compiled spec (schedule-schema.ts), which `canonical` then copies once.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(canonical(value, new WeakMap()));
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `value` as the replacer saw it (its `toJSON(key)` once), with every object's keys in code-unit
 * order, for JSON.stringify to write: a plain object or an array already so is itself, any other a
 * copy (Object.fromEntries, which keeps a `__proto__` key as the replacer's did), each once
 * (`seen`). The copies hold no function, so JSON.stringify calls no `toJSON` of its own.
 */
function canonical(value: unknown, seen: WeakMap<object, unknown>, key = ''): unknown {
  if (value === null || typeof value !== 'object') return value;
  const asJson = (value as { toJSON?: unknown }).toJSON;
  // Not kept in `seen`: toJSON may answer each key differently.
  if (typeof asJson === 'function') return sorted(asJson.call(value, key) as unknown, seen);
  if (seen.has(value)) return seen.get(value);
  const out = sorted(value, seen);
  seen.set(value, out);
  return out;
}

/** canonical's copy of a value that is not to be asked for its toJSON. */
function sorted(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const c = canonical(item, seen, String(i));
      if (c !== item) (copy ??= [...(value as unknown[])])[i] = c;
    }
    return copy ?? value;
  }
  // Plain loops: this walks every value of the config at each start.
  const record = value as Record<string, unknown>;
  const prototype: unknown = Object.getPrototypeOf(record);
  const keys = Object.keys(record);
  let same = prototype === Object.prototype || prototype === null;
  const children: unknown[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (i > 0 && (keys[i - 1] as string) > key) same = false;
    const child = record[key];
    const c = typeof child === 'function' ? undefined : canonical(child, seen, key);
    if (c !== child) same = false;
    children.push(c);
  }
  if (same) return value;
  return Object.fromEntries(keys.map((k, i) => [k, children[i]] as const).sort(([a], [b]) => byCodeUnits(a, b)));
}

export function configFingerprint(config: ResolvedConfig): ConfigFingerprint {
  const names = config.entries.map((e) => e.name).sort();
  const shaping = {
    // By name: the order entries are written in changes nothing.
    entries: [...config.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    taskDefaultQueue: config.taskDefaultQueue,
    taskRoutes: config.taskRoutes.map((r) => ({ pattern: r.pattern, route: r.route })),
    taskProtocol: config.taskProtocol,
  };
  return { configHash: sha256(stableJson(shaping)), entriesHash: sha256(names.join('\n')), entryCount: names.length, entryNames: names };
}

/**
 * The leader publishes its entry names with its record (so that a CLI or replica with another
 * config can name the entries that differ) up to this many; beyond, only their hash and count,
 * which keeps the record small for standbys that read it every retry.
 */
export const FINGERPRINT_MAX_NAMES = 10_000;

/** The fields the leader writes into its leader hash (see keys.ts). */
export function fingerprintFields(fingerprint: ConfigFingerprint): Record<string, string> {
  const fields: Record<string, string> = {
    configHash: fingerprint.configHash,
    entriesHash: fingerprint.entriesHash,
    entryCount: String(fingerprint.entryCount),
  };
  const names = fingerprint.entryNames;
  if (names !== undefined && names.length <= FINGERPRINT_MAX_NAMES) fields['entryNames'] = JSON.stringify(names);
  return fields;
}

/** Reads the fingerprint back from the leader hash; undefined for a leader that wrote none. */
export function parseFingerprint(fields: Readonly<Record<string, string | undefined>>): ConfigFingerprint | undefined {
  const { configHash, entriesHash, entryCount, entryNames } = fields;
  if (configHash === undefined || entriesHash === undefined) return undefined;
  let names: string[] | undefined;
  try {
    const parsed: unknown = entryNames === undefined ? undefined : JSON.parse(entryNames);
    names = Array.isArray(parsed) && parsed.every((n) => typeof n === 'string') ? parsed : undefined;
  } catch {
    names = undefined;
  }
  return { configHash, entriesHash, entryCount: Number(entryCount ?? NaN), entryNames: names };
}

export interface ConfigMismatch {
  /** What differs, for the log line and the CLI: entry names, or only their definitions. */
  readonly summary: string;
  /** Entries the leader has and this config lacks (when the leader published its names). */
  readonly onlyLeader: readonly string[];
  /** Entries this config has and the leader lacks (when the leader published its names). */
  readonly onlyHere: readonly string[];
  /** The whole warning, with the fix. */
  readonly message: string;
}

function listed(names: readonly string[]): string {
  const shown = names
    .slice(0, 5)
    .map((n) => `"${n}"`)
    .join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * How this config differs from the leader's, or undefined when they are the same (or the leader
 * published no fingerprint, as a tsbeat before this check does not).
 */
export function compareFingerprint(
  own: ConfigFingerprint,
  leader: ConfigFingerprint | undefined,
  deployment: string,
  leaderInstance: string,
): ConfigMismatch | undefined {
  if (leader === undefined || leader.configHash === own.configHash) return undefined;
  let summary: string;
  let onlyLeader: string[] = [];
  let onlyHere: string[] = [];
  if (leader.entriesHash === own.entriesHash) {
    summary = 'the same entries, defined differently';
  } else if (leader.entryNames !== undefined && own.entryNames !== undefined) {
    const theirs = new Set(leader.entryNames);
    const ours = new Set(own.entryNames);
    onlyLeader = leader.entryNames.filter((n) => !ours.has(n));
    onlyHere = own.entryNames.filter((n) => !theirs.has(n));
    const parts = [
      onlyHere.length > 0 ? `${onlyHere.length} entr${onlyHere.length === 1 ? 'y' : 'ies'} the leader lacks (${listed(onlyHere)})` : '',
      onlyLeader.length > 0 ? `lacks ${onlyLeader.length} of the leader's (${listed(onlyLeader)})` : '',
    ].filter((p) => p !== '');
    summary = `this config has ${parts.join(' and ')}`;
  } else {
    summary = `other entries (${leader.entryCount} there, ${own.entryCount} here)`;
  }
  const message =
    `this config differs from the one the leader ${leaderInstance} of deployment "${deployment}" runs: ${summary}. ` +
    `The leader publishes only its own entries. If these are two deployments, give each its own \`name\` in its config; ` +
    `during a rolling update this passes once the leader runs the new config.`;
  return { summary, onlyLeader, onlyHere, message };
}
