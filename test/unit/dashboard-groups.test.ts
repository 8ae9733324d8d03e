/**
 * The dashboard overview's concurrency groups (issue 70): the counts its sources give (operations/
 * read-verbs.ts groupStatuses, as `beat status` counts them) shown whole to a reader of the whole
 * deployment, and to a caller scoped by its grants only for the groups whose entries it may all read
 * (a group's counts mix its entries' runs). Over the real routes and index; the sources in memory.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { GroupStatus } from '../../src/control/status.js';
import { parseGrants, VIEWER } from '../../src/core/grants.js';
import type { Grant } from '../../src/core/grants.js';
import { Dashboard } from '../../src/dashboard/routes.js';
import type { DashboardSources } from '../../src/dashboard/sources.js';
import type { OverviewWire } from '../../src/dashboard/wire.js';
import { serveDashboard } from '../support/dashboard-app.js';

const group = (name: string, team: string) => ({
  task: `t.${name}`,
  schedule: 60,
  labels: { team },
  concurrency: { group: name.split('-')[1] as string, limit: 1 },
});
const config = parseConfig(
  {
    name: 'groups',
    resultBackend: 'redis://127.0.0.1:6379/1',
    beatSchedule: {
      // "pay": billing's entries only; "mixed": one of billing's and one of ops'.
      'a-pay': group('a-pay', 'billing'),
      'b-pay': group('b-pay', 'billing'),
      'c-mixed': group('c-mixed', 'billing'),
      'd-mixed': group('d-mixed', 'ops'),
    },
  },
  'test',
);
const COUNTS: GroupStatus[] = [
  { group: 'mixed', limit: 1, running: 1, waiting: 4, entries: 2 },
  { group: 'pay', limit: 1, running: 1, waiting: 2, entries: 2 },
];

function sources(asked: (readonly string[])[]): DashboardSources {
  const set = { config, entries: config.entries, invalid: [] };
  return {
    instanceId: 'groups',
    version: 'test',
    now: () => 0,
    entrySet: () => set,
    paused: async () => new Set<string>(),
    status: async () => new Map(),
    runColumns: async () => new Map(),
    deployment: async () => ({
      deployment: 'groups',
      role: 'leader',
      leader: null,
      lockExpiresInMs: null,
      replicas: [],
      redis: 'ready',
      broker: 'ready',
      warnings: [],
    }),
    groups: async (entries: readonly ResolvedEntry[]) => {
      asked.push(entries.map((e) => e.name));
      return COUNTS;
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

async function overviewAs(grants: readonly Grant[], asked: (readonly string[])[]): Promise<OverviewWire> {
  const server = await serveDashboard(new Dashboard(sources(asked), silentLogger), grants);
  try {
    const res = await fetch(`${server.url}/ui/api/overview`);
    expect(res.status).toBe(200);
    return (await res.json()) as OverviewWire;
  } finally {
    await server.close();
  }
}

describe("the dashboard overview's concurrency groups", () => {
  it('shows every group to a reader of the whole deployment, counted over every entry', async () => {
    const asked: (readonly string[])[] = [];
    const overview = await overviewAs(VIEWER, asked);
    expect(overview.groups).toEqual(COUNTS);
    expect(asked).toEqual([['a-pay', 'b-pay', 'c-mixed', 'd-mixed']]);
  });

  it('shows a scoped caller only the groups whose entries it may all read', async () => {
    const parsed = parseGrants('viewer@team=billing');
    if (!parsed.ok) throw new Error(parsed.problem);
    const asked: (readonly string[])[] = [];
    const overview = await overviewAs(parsed.grants, asked);
    expect(overview.counts.entries).toBe(3);
    // "mixed" has an entry of ops': its counts would tell of runs the caller may not read.
    expect(overview.groups).toEqual([COUNTS[1]]);
    const ops = parseGrants('viewer@team=ops');
    if (!ops.ok) throw new Error(ops.problem);
    expect((await overviewAs(ops.grants, [])).groups).toEqual([]);
  });
});
