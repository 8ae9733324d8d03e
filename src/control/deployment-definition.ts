/**
 * A deployment's definition: the config file's entries as their author wrote them and the settings
 * that shape every entry's runs. The leader records the one it runs (redis/definition-store.ts), so
 * that `beat plan --config NEW` can say what running NEW would change, entry by entry, with the
 * plan of runtime entries' diff and next fires (entry-plan.ts). Pure: the caller reads and passes
 * the time.
 */
import { calendarsSchema } from '../config/exclude-schema.js';
import type { CalendarDrafts } from '../config/exclude-schema.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { entryDiff } from './audit-events.js';
import type { FieldChange } from './audit-events.js';
import { changeItem, firesOf, planLoad } from './entry-plan.js';
import type { FireContext, PlanItem, PlanLoad } from './entry-plan.js';
import { configFingerprint, stableJson } from './fingerprint.js';

export interface DeploymentDefinition {
  /** The fingerprint of the config it was made from (fingerprint.ts configHash, as `beat status` shows it). */
  readonly configHash: string;
  /** The config file, as the process that read it named it. */
  readonly source: string;
  /**
   * Settings that shape every entry's runs, as JSON values: `timezone` (that of every entry that
   * names none), `calendars` (as written), `taskDefaultQueue`, `taskRoutes`, `taskProtocol`.
   */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The config file's entries as written (JSON values), by name. */
  readonly entries: Readonly<Record<string, unknown>>;
}

/** A JSON value as JSON has it (a module config's undefined fields gone): the settings, small. */
function jsonValue(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/**
 * The definition of a config; undefined for one not read from a file (parseConfig records what was
 * written). `configHash`: its fingerprint when the caller has it (the supervisor keeps it), else computed.
 */
export function definitionOf(config: ResolvedConfig, configHash?: string): DeploymentDefinition | undefined {
  const written = config.written;
  if (written === undefined) return undefined;
  const settings = jsonValue({
    timezone: config.timezone,
    calendars: written.calendars ?? {},
    taskDefaultQueue: config.taskDefaultQueue,
    taskRoutes: config.taskRoutes.map((r) => ({ pattern: r.pattern, route: r.route })),
    taskProtocol: config.taskProtocol,
  }) as Record<string, unknown>;
  // The entries as written, not copied: the stored format is their JSON (a module's undefined
  // fields drop out there), and the plan compares them as JSON (stableJson, entryDiff).
  return {
    configHash: configHash ?? configFingerprint(config).configHash,
    source: written.source,
    settings,
    entries: written.beatSchedule,
  };
}

export type ConfigPlanAction = 'add' | 'change' | 'remove' | 'unchanged';

/** One entry of a config plan: as a plan of runtime entries has it, without an owner's version or holder. */
export type ConfigPlanItem = Omit<PlanItem, 'version' | 'heldBy' | 'action'> & {
  readonly action: ConfigPlanAction;
  /**
   * An added entry whose name a runtime entry holds: that one's owner (null: made by hand). The
   * config's entry takes the name, and the runtime entry stops running (beat.entries.conflict).
   */
  readonly runtimeHeldBy?: string | null;
};

export interface ConfigPlan {
  readonly deployment: string;
  /** The definition the deployment recorded: its config's fingerprint and file, and when. */
  readonly recorded: { readonly configHash: string; readonly source: string; readonly at: string };
  /** The new config: its file and fingerprint. */
  readonly config: { readonly configHash: string; readonly source: string };
  readonly counts: Readonly<Record<ConfigPlanAction, number>>;
  /** Settings that shape every entry's runs which differ (`timezone`, `calendars.<name>`…). */
  readonly settings: readonly FieldChange[];
  readonly entries: readonly ConfigPlanItem[];
  /** The load of the config's entries now and with the new config (`definitionsLoad`), when asked for. */
  readonly load?: PlanLoad;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Where the definition's entries of `deployment` fire: its timezone, and its calendars (undefined when they do not parse). */
export function fireContext(definition: DeploymentDefinition, deployment: string): FireContext {
  const zone = typeof definition.settings['timezone'] === 'string' ? definition.settings['timezone'] : 'UTC';
  const parsed = calendarsSchema.safeParse(definition.settings['calendars'] ?? {});
  const calendars: CalendarDrafts | undefined = parsed.success ? parsed.data : undefined;
  return calendars === undefined ? { zone, deployment } : { zone, deployment, calendars };
}

/**
 * An entry as a plan compares it: one that names no timezone is read in the config's, so it is
 * given that one. A change of the config's `timezone` then shows on every entry it moves, with its
 * fires before and after, and not on those that name their own.
 */
function zoned(entry: unknown, zone: string): unknown {
  return isMapping(entry) && !Object.hasOwn(entry, 'timezone') ? { ...entry, timezone: zone } : entry;
}

/** The names `next` adds to `recorded`: those a plan looks for among the runtime entries. */
export function addedNames(recorded: DeploymentDefinition, next: DeploymentDefinition): string[] {
  return Object.keys(next.entries).filter((name) => !Object.hasOwn(recorded.entries, name));
}

/** The changes of the calendars an entry's `exclude` names (by name, or `{calendar: name}`), as `calendars.<name>…`. */
function calendarChanges(entry: unknown, recorded: DeploymentDefinition, next: DeploymentDefinition): FieldChange[] {
  const exclude = isMapping(entry) ? entry['exclude'] : undefined;
  if (!Array.isArray(exclude)) return [];
  const named = new Set<string>();
  for (const item of exclude as unknown[]) {
    if (typeof item === 'string') named.add(item);
    else if (isMapping(item) && typeof item['calendar'] === 'string') named.add(item['calendar']);
  }
  const picked = (definition: DeploymentDefinition): Record<string, unknown> => {
    const calendars = definition.settings['calendars'];
    return isMapping(calendars)
      ? Object.fromEntries([...named].filter((n) => Object.hasOwn(calendars, n)).map((n) => [n, calendars[n]]))
      : {};
  };
  return entryDiff({ calendars: picked(recorded) }, { calendars: picked(next) });
}

/**
 * What running `next` instead of `recorded` would change: each entry added, changed (its fields),
 * removed or unchanged, with the next fires before and after; and the settings that differ.
 */
export function planConfig(options: {
  readonly deployment: string;
  readonly recorded: DeploymentDefinition & { readonly atMs: number };
  readonly next: DeploymentDefinition;
  readonly nowMs: number;
  /** The runtime entries of the names `addedNames` gives (name → owner, null: none), as the caller read them. */
  readonly runtimeHolders?: ReadonlyMap<string, string | null>;
}): ConfigPlan {
  const { recorded, next, nowMs } = options;
  const before = fireContext(recorded, options.deployment);
  const after = fireContext(next, options.deployment);
  const items: ConfigPlanItem[] = [];
  for (const [name, written] of Object.entries(next.entries)) {
    const entry = zoned(written, after.zone);
    if (!Object.hasOwn(recorded.entries, name)) {
      const holder = options.runtimeHolders?.get(name);
      items.push({
        name,
        action: 'add',
        firesAfter: firesOf(name, entry, after, nowMs),
        ...(holder === undefined ? {} : { runtimeHeldBy: holder }),
      });
      continue;
    }
    const old = zoned(recorded.entries[name], before.zone);
    // A calendar it names that changed changes the entry too, as its own field would.
    const calendars = calendarChanges(written, recorded, next);
    if (stableJson(old) === stableJson(entry) && calendars.length === 0) {
      items.push({ name, action: 'unchanged' });
      continue;
    }
    const change = changeItem(name, old, entry, before, after, nowMs);
    items.push(calendars.length === 0 ? change : { ...change, changes: [...(change.changes ?? []), ...calendars] });
  }
  for (const [name, written] of Object.entries(recorded.entries)) {
    if (Object.hasOwn(next.entries, name)) continue;
    // A file entry removed keeps its stored state (its name added back resumes from it): nothing is dropped.
    items.push({ name, action: 'remove', firesBefore: firesOf(name, zoned(written, before.zone), before, nowMs), dropped: [] });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const counts = { add: 0, change: 0, remove: 0, unchanged: 0 };
  for (const item of items) counts[item.action] += 1;
  return {
    deployment: options.deployment,
    recorded: { configHash: recorded.configHash, source: recorded.source, at: new Date(recorded.atMs).toISOString() },
    config: { configHash: next.configHash, source: next.source },
    counts,
    settings: entryDiff(recorded.settings, next.settings),
    entries: items,
  };
}

/** The load of deployment's recorded config's entries and of the new one's over the coming `horizonMs`, each read in its own settings. */
export function definitionsLoad(
  deployment: string,
  recorded: DeploymentDefinition,
  next: DeploymentDefinition,
  nowMs: number,
  horizonMs: number,
): Promise<PlanLoad> {
  return planLoad(
    { entries: Object.entries(recorded.entries), context: fireContext(recorded, deployment) },
    { entries: Object.entries(next.entries), context: fireContext(next, deployment) },
    nowMs,
    horizonMs,
  );
}
