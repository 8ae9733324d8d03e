/**
 * Step D of partitions (issue 34): the `partitions` setting, and how one process's parts are split
 * between its partitions' runtimes: the catalog's runtime entries (catalog-slices.ts), the config
 * file's entries a partition's sessions schedule (Supervisor ownsEntry), the process's sinks
 * (partition-sinks.ts) and its clock guard (clock-watchers.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { partitionOf } from '../../src/core/partition.js';
import { NO_EVENTS } from '../../src/ports/events.js';
import type { ClockGuard } from '../../src/redis/clock-guard.js';
import type { partitionKeys } from '../../src/redis/keys.js';
import { partitionRuntimeKeys, schedulerKeys } from '../../src/redis/keys.js';
import { catalogSlices } from '../../src/runtime/catalog-slices.js';
import type { CatalogListener, EntryCatalog } from '../../src/runtime/entry-catalog.js';
import { clockGuardViews } from '../../src/service/clock-watchers.js';
import { reloadableConfig } from '../../src/service/reload.js';
import { createLogger } from '../../src/base/log.js';
import { partitionLeaderTasks, partitionSinks } from '../../src/service/partition-sinks.js';
import { problemsOf } from '../support/config-problems.js';

const N = 4;
const NAMES = Array.from({ length: 40 }, (_, i) => `entry-${i}`);
const entry = (name: string): ResolvedEntry => ({ name }) as ResolvedEntry;

/** A catalog holding NAMES, that records what the slices ask of it. */
function fakeCatalog() {
  const state: {
    listener: CatalogListener | undefined;
    removed: ((names: readonly string[]) => void) | undefined;
    reconfigures: number;
  } = { listener: undefined, removed: undefined, reconfigures: 0 };
  const catalog = {
    entries: (p?: number) => NAMES.filter((name) => p === undefined || partitionOf(name, N) === p).map(entry),
    find: (name: string) => (NAMES.includes(name) ? entry(name) : undefined),
    listen: (l: CatalogListener | undefined) => void (state.listener = l),
    onRemoved: (l: (names: readonly string[]) => void) => void (state.removed = l),
    poke: vi.fn(),
    refresh: vi.fn(() => Promise.resolve()),
    reading: () => undefined,
    reconfigure: () => {
      state.reconfigures += 1;
      return Promise.resolve();
    },
  };
  return { catalog: catalog as unknown as EntryCatalog, state };
}

describe('partitions in the config', () => {
  it('defaults to one (absent from the resolved config: the deployment as before) and takes 1 to 1024', () => {
    expect(parseConfig({}, 'test').partitions).toBeUndefined();
    expect(parseConfig({ partitions: 1 }, 'test').partitions).toBeUndefined();
    expect(parseConfig({ partitions: 12 }, 'test').partitions).toBe(12);
    expect(parseConfig({ partitions: 1024 }, 'test').partitions).toBe(1024);
  });

  it('refuses a count that is not a whole number from 1 to 1024, naming the place and the fix', () => {
    const message = 'partitions: partitions must be a whole number from 1 to 1024 (1, the default, is one lock for every entry)';
    for (const bad of [0, -1, 1.5, 1025, '4', null]) expect(problemsOf({ partitions: bad })).toEqual([message]);
  });

  it('refuses partitions > 1 with sources.redbeat, whose lock and write-back follow one leader', () => {
    expect(problemsOf({ partitions: 2, sources: { redbeat: {} } })).toEqual([
      "partitions: partitions > 1 is not supported with sources.redbeat yet (RedBeat's lock and write-back follow one leader): set partitions to 1, or import the RedBeat entries (beat import redbeat)",
    ]);
    expect(parseConfig({ partitions: 1, sources: { redbeat: {} } }, 'test').partitions).toBeUndefined();
  });
});

describe('a reload', () => {
  it('keeps the count of partitions the process started with, and says so', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) } });
    const four = parseConfig({ partitions: 4 }, 'test');
    const one = parseConfig({}, 'test');
    expect(reloadableConfig(four, parseConfig({ partitions: 8 }, 'test'), logger).partitions).toBe(4);
    expect('partitions' in reloadableConfig(one, four, logger)).toBe(false);
    expect(reloadableConfig(four, one, logger).partitions).toBe(4);
    expect(reloadableConfig(four, parseConfig({ partitions: 4, maxInterval: '2s' }, 'test'), logger)).toMatchObject({
      partitions: 4,
      maxIntervalMs: 2000,
    });
    expect(lines.map((l) => l['needsRestart'])).toEqual([['partitions (4 → 8)'], ['partitions (1 → 4)'], ['partitions (4 → 1)']]);
  });
});

describe('partitionRuntimeKeys', () => {
  const names = (keys: ReturnType<typeof partitionKeys>) => [keys.state, keys.lock, keys.entries, keys.statics, keys.entriesReceipt('r')];
  it("is the deployment's keys with one partition", () => {
    expect(names(partitionRuntimeKeys('tsbeat', 'd', 0, 1))).toEqual(names(schedulerKeys('tsbeat', 'd')));
  });

  it("is the partition's keys but the runtime entry store's, which stay the deployment's (until step E)", () => {
    const keys = partitionRuntimeKeys('tsbeat', 'd', 2, 4);
    expect(names(keys)).toEqual([
      'tsbeat:{d/2}:state',
      'tsbeat:{d/2}:lock',
      'tsbeat:{d}:entries',
      'tsbeat:{d}:statics',
      'tsbeat:{d}:entries:receipt:r',
    ]);
    expect([
      keys.entryChanges,
      keys.entryNames,
      keys.entriesVersion,
      keys.staticsId,
      keys.entriesPartition(4, 2),
      keys.entriesPartitionHead,
    ]).toEqual([
      'tsbeat:{d}:entries:changes',
      'tsbeat:{d}:entries:names',
      'tsbeat:{d}:entries:version',
      'tsbeat:{d}:statics:id',
      'tsbeat:{d}:entries:partition:4:2',
      'tsbeat:{d}:entries:partition:',
    ]);
    expect([keys.paused, keys.triggers, keys.fence, keys.replicas]).toEqual([
      'tsbeat:{d/2}:paused',
      'tsbeat:{d/2}:triggers',
      'tsbeat:{d/2}:fence',
      'tsbeat:{d}:replicas',
    ]);
  });
});

describe('catalogSlices', () => {
  it('is the catalog itself with one partition', () => {
    const { catalog } = fakeCatalog();
    expect(catalogSlices(catalog, 1)).toEqual([catalog]);
  });

  it('gives each partition its own entries: together all of them, each once', () => {
    const { catalog } = fakeCatalog();
    const slices = catalogSlices(catalog, N);
    const seen = slices.flatMap((slice, p) => slice.entries().map((e) => [e.name, p] as const));
    expect(seen.map(([name]) => name).sort()).toEqual([...NAMES].sort());
    for (const [name, p] of seen) expect(partitionOf(name, N)).toBe(p);
    for (const name of NAMES)
      slices.forEach((slice, p) => expect(slice.find(name)?.name).toBe(p === partitionOf(name, N) ? name : undefined));
  });

  it('hands each listening partition only its own changes and removals; the catalog listens while any does', async () => {
    const { catalog, state } = fakeCatalog();
    const slices = catalogSlices(catalog, N);
    expect(state.listener).toBeUndefined();
    const heard: { p: number; changed: string[]; removed: string[] }[] = [];
    slices.forEach((slice, p) =>
      slice.listen(async (changed, removed) => void heard.push({ p, changed: changed.map((e) => e.name), removed: [...removed] })),
    );
    await state.listener?.(NAMES.slice(0, 20).map(entry), NAMES.slice(20));
    expect(heard.length).toBeGreaterThan(1);
    for (const { p, changed, removed } of heard) {
      expect(changed).toEqual(NAMES.slice(0, 20).filter((n) => partitionOf(n, N) === p));
      expect(removed).toEqual(NAMES.slice(20).filter((n) => partitionOf(n, N) === p));
    }
    for (const slice of slices) slice.listen(undefined);
    expect(state.listener).toBeUndefined();
  });

  it("fails the catalog's call when one partition's listener fails, after the others have taken theirs", async () => {
    const { catalog, state } = fakeCatalog();
    const slices = catalogSlices(catalog, N);
    const taken: number[] = [];
    slices.forEach((slice, p) =>
      slice.listen(async () => {
        if (p === 1) throw new Error('runner stopped');
        await Promise.resolve();
        taken.push(p);
      }),
    );
    await expect(state.listener?.(NAMES.map(entry), [])).rejects.toThrow('runner stopped');
    expect(taken.sort()).toEqual([0, 2, 3]);
  });

  it('tells each partition of its own removed entries', () => {
    const { catalog, state } = fakeCatalog();
    const slices = catalogSlices(catalog, N);
    const told = new Map<number, readonly string[]>();
    slices.forEach((slice, p) => slice.onRemoved((names) => told.set(p, names)));
    state.removed?.(NAMES);
    for (const [p, names] of told) expect(names).toEqual(NAMES.filter((n) => partitionOf(n, N) === p));
    expect([...told.keys()].sort()).toEqual([0, 1, 2, 3]);
  });

  it("reconfigures the catalog once for the partitions' reloads of one config, again for another", async () => {
    const { catalog, state } = fakeCatalog();
    const slices = catalogSlices(catalog, N);
    const defaults = { zone: 'UTC', alerts: undefined, calendars: {} };
    for (const slice of slices) await slice.reconfigure({ ...defaults }, new Set(['a', 'b']));
    expect(state.reconfigures).toBe(1);
    for (const slice of slices) await slice.reconfigure({ ...defaults }, new Set(['a']));
    expect(state.reconfigures).toBe(2);
    for (const slice of slices) await slice.reconfigure({ ...defaults, zone: 'Europe/Paris' }, new Set(['a']));
    expect(state.reconfigures).toBe(3);
  });
});

describe('partitionSinks', () => {
  it('passes events through, and tells leadership as the process has it: leading while any partition leads', () => {
    const leadership: boolean[] = [];
    const published = vi.fn();
    const sink = { ...NO_EVENTS, published, leadershipChanged: (leading: boolean) => void leadership.push(leading) };
    const sinks = partitionSinks([sink], 3);
    expect(partitionSinks([sink], 1)).toEqual([[sink]]);
    const [a, b, c] = sinks.map((list) => list[0] as typeof sink);
    for (const s of [a, b, c]) s?.leadershipChanged(false);
    a?.leadershipChanged(true);
    b?.leadershipChanged(true);
    a?.leadershipChanged(false);
    b?.leadershipChanged(false);
    c?.published({}, 0);
    expect(leadership).toEqual([false, true, false]);
    expect(published).toHaveBeenCalledTimes(1);
  });
});

describe('partitionLeaderTasks', () => {
  it("gives the deployment's tasks to partition 0, and runs a process's task while any partition runs it", async () => {
    const said: string[] = [];
    const task = (name: string) => ({ start: () => void said.push(`${name} start`), stop: async () => void said.push(`${name} stop`) });
    const alerts = task('alerts');
    const checkIns = task('check-ins');
    expect(partitionLeaderTasks([alerts, checkIns], new Set([checkIns]), 1)).toEqual([[alerts, checkIns]]);
    const [p0, p1, p2] = partitionLeaderTasks([alerts, checkIns], new Set([checkIns]), 3);
    expect([p0?.length, p1?.length, p2?.length]).toEqual([2, 1, 1]);
    expect(p0?.[0]).toBe(alerts);
    p1?.[0]?.start();
    p2?.[0]?.start();
    p2?.[0]?.start();
    await p1?.[0]?.stop();
    await p1?.[0]?.stop();
    expect(said).toEqual(['check-ins start']);
    await p2?.[0]?.stop();
    expect(said).toEqual(['check-ins start', 'check-ins stop']);
  });
});

describe('clockGuardViews', () => {
  it("runs the guard's one watcher while any partition watches, and a skew hands every watching partition over", () => {
    let onSkewed: ((reason: string) => void) | undefined;
    const guard = {
      watch: vi.fn((_period: number, handler: (reason: string) => void) => void (onSkewed = handler)),
      unwatch: vi.fn(),
      check: vi.fn(),
      reportAhead: vi.fn(),
    };
    expect(clockGuardViews(guard as unknown as ClockGuard, 1)).toEqual([guard]);
    const [a, b, c] = clockGuardViews(guard as unknown as ClockGuard, 3);
    const handed: string[] = [];
    a?.watch(500, () => handed.push('a'));
    b?.watch(500, () => handed.push('b'));
    expect(guard.watch).toHaveBeenCalledTimes(1);
    onSkewed?.('ahead');
    expect(handed).toEqual(['a', 'b']);
    a?.unwatch();
    c?.unwatch();
    expect(guard.unwatch).not.toHaveBeenCalled();
    b?.unwatch();
    expect(guard.unwatch).toHaveBeenCalledTimes(1);
  });
});
