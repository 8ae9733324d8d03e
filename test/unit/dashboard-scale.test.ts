/**
 * The dashboard's list at scale (issue 37): a page and the failing filter cost O(page), not
 * O(entries). Held by counts, never by a time (the times of the list at 100,000 entries are
 * bench/dashboard-100k.mjs's): the status computed (page rows only), and the turns of the event loop
 * while the list's index is made (it yields) and while it is only read (it is kept). The dashboard runs over its real routes and index; the service's sources are replaced by an
 * in-memory set of entries whose status is computed by the real buildStatus.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { silentLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { buildStatus } from '../../src/control/status.js';
import type { EntrySet } from '../../src/dashboard/entry-rows.js';
import { Dashboard } from '../../src/dashboard/routes.js';
import type { DashboardSources } from '../../src/dashboard/sources.js';
import type { PageWire } from '../../src/dashboard/wire.js';
import { serveDashboard } from '../support/dashboard-app.js';

const NOW = Date.parse('2027-03-20T10:00:30Z');
const config = parseConfig(
  {
    name: 'scale',
    timezone: 'UTC',
    beatSchedule: {
      cron: { task: 'app.cron', schedule: { crontab: { minute: '7', hour: '3' } } },
      every: { task: 'app.every', schedule: 60, options: { queue: 'slow' } },
      berlin: { task: 'app.morning', schedule: { crontab: { minute: '0', hour: '7' } }, timezone: 'Europe/Berlin' },
    },
  },
  'test',
);
const nameOf = (i: number): string => `entry-${String(i).padStart(6, '0')}`;

interface Counted {
  /** Names whose status was computed, per request. */
  statusNames: number[];
}

function sources(n: number, counted: Counted): DashboardSources {
  const entries: ResolvedEntry[] = Array.from({ length: n }, (_, i) => ({
    ...config.entries[i % config.entries.length]!,
    name: nameOf(i),
    origin: 'store' as const,
  }));
  const set: EntrySet = { config, entries, invalid: [] };
  const byName = new Map(entries.map((e) => [e.name, e]));
  // One in a hundred fails, as in bench/dashboard-100k.mjs.
  const failing = new Map(entries.filter((_, i) => i % 100 === 0).map((e) => [e.name, 3]));
  const paused = new Set<string>();
  return {
    instanceId: 'scale',
    version: 'test',
    now: () => NOW,
    entrySet: () => set,
    paused: async () => paused,
    status: async (names) => {
      counted.statusNames.push(names.length);
      const status = buildStatus({
        config: { ...config, entries: names.map((name) => byName.get(name)!) },
        states: new Map(),
        paused,
        leader: undefined,
        self: { instance: 'scale', role: 'leader' },
        nowMs: NOW,
      });
      return new Map(status.entries.map((e) => [e.name, e]));
    },
    runColumns: async () => {
      throw new Error('no run columns: the requests measured sort by name');
    },
    failureStreaks: async () => failing,
    deployment: async () => {
      throw new Error('not asked');
    },
    control: {
      setPaused: async () => false,
      setPausedMany: async () => [],
      requestTriggers: async () => [],
      wasTriggered: async () => false,
      triggerRefusal: async () => undefined,
      cancelTrigger: async () => false,
      deploymentStop: async () => undefined,
      stopDeployment: async () => {
        throw new Error('not asked');
      },
      resumeDeployment: async () => undefined,
    },
    messageEnv: { origin: 'gen1@test', replyTo: 'r' },
    apiToken: () => undefined,
  };
}

/** Turns of the event loop while `work` runs: each turn reschedules the count with setImmediate. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = (): void => {
    turns += 1;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { value: await work(), turns };
  } finally {
    on = false;
  }
}

const REQUESTS = ['?limit=100', '?limit=100&offset=2500', '?limit=100&failing=1', '?limit=100&failing=1&offset=20'];

interface Measured {
  readonly buildTurns: number;
  readonly readTurns: number;
  readonly counted: Counted;
  readonly pages: readonly PageWire[];
}

async function measure(n: number): Promise<Measured> {
  const counted: Counted = { statusNames: [] };
  const server = await serveDashboard(new Dashboard(sources(n, counted), silentLogger));
  const get = async (query: string): Promise<PageWire> => {
    const res = await fetch(`${server.url}/ui/api/entries${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as PageWire;
  };
  try {
    // The first request makes the index; the next only reads it.
    const build = await turnsDuring(() => get('?limit=100'));
    const read = await turnsDuring(() => get('?limit=100&offset=100'));
    const pages = await Promise.all(REQUESTS.map(get));
    return { buildTurns: build.turns, readTurns: read.turns, counted, pages: [build.value, ...pages] };
  } finally {
    await server.close();
  }
}

describe('the dashboard list at 5,000 and 50,000 entries', () => {
  const results: Promise<[Measured, Measured]> = (async () => [await measure(5_000), await measure(50_000)])();
  afterAll(async () => {
    await results;
  });

  it('answers the pages in name order and the failing filter from the failures hash, computing status for the page only', async () => {
    for (const [n, m] of [5_000, 50_000].map((size, i) => [size, results.then((r) => r[i]!)] as const)) {
      const { pages, counted } = await m;
      const [first, , middle, failing, failingNext] = pages;
      expect([first!.total, first!.matched, first!.rows.map((r) => r.name)]).toEqual([
        n,
        n,
        Array.from({ length: 100 }, (_, i) => nameOf(i)),
      ]);
      expect(middle!.rows.map((r) => r.name)).toEqual(Array.from({ length: 100 }, (_, i) => nameOf(2500 + i)));
      expect([failing!.matched, failing!.rows[1]!.name]).toEqual([n / 100, nameOf(100)]);
      expect(failingNext!.rows[0]!.name).toBe(nameOf(2000));
      // The next fire of a page row is its schedule's (cron 03:07 UTC daily: the next one tomorrow).
      expect(first!.rows[0]!.view?.nextRun).toBe('2027-03-21T03:07:00+00:00');
      // Status is computed for the rows of a page, never for every entry.
      expect(Math.max(...counted.statusNames)).toBeLessThanOrEqual(100);
    }
  });

  it('makes the index in slices (the loop turns between them) and only once: later requests read it', async () => {
    const [, big] = await results;
    expect(big.buildTurns).toBeGreaterThanOrEqual(50_000 / DEFAULTS.loopSlice);
    // A request on the kept index: a few turns of I/O, none per slice of entries.
    expect(big.readTurns).toBeLessThan(50_000 / DEFAULTS.loopSlice / 2);
  });
});
