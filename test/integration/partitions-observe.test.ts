/**
 * What a deployment of `partitions: 4` shows of itself, with two `beat run --http` replicas as real
 * processes on a private Redis, each leading the two partitions the partition map gives it (the
 * second taking its two from the first by hand-overs): each replica's /metrics (the
 * partitions it leads, the entries their runners hold, the messages it published by partition),
 * /status and `beat status` (the partition map with since, every entry's partition, the replicas
 * leading any partition as leaders), and the dashboard: its API (the partition map, each row's
 * partition and the filter, the slots that never ran read from the entry's partition's keys) and,
 * in a real headless Chromium, the pages that show them. Who leads which partition is read from
 * Redis (each partition's lock and leader record), not from the replicas' logs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { assignPartitions, partitionOf, partitionsLedBy } from '../../src/core/partition.js';
import type { OverviewWire, PageWire, StripsWire } from '../../src/dashboard/wire.js';
import { partitionKeys } from '../../src/redis/keys.js';
import { RedisMissedSlots } from '../../src/redis/missed-slots-store.js';
import { FAST_LOCK, partitionLeaderPids, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, httpRequest, parsePrometheus, runBeatCli, sampleValue } from '../support/ops.js';

const N = 4;
const NAME = 'parts-view';
const NAMES = Array.from({ length: 24 }, (_, i) => `v${String(i).padStart(2, '0')}`);
const CHROMIUM = '/usr/bin/chromium';
const DOCS = join(import.meta.dirname, '../../docs/images');

const inPartition = (p: number): string[] => NAMES.filter((n) => partitionOf(n, N) === p);
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface StatusJson {
  self: { instance: string; role: string };
  partitions?: { partition: number; leader: string | null; since: string | null; assigned: string | null; leading?: boolean }[];
  entries: { name: string; partition?: number }[];
  replicas: { instance: string; role: string; partitions?: number[] }[];
}

describe('partitions: what /metrics, /status, beat status and the dashboard show', () => {
  const suite = beatSuite();
  let a: BeatProcess;
  let b: BeatProcess;
  let portA: number;
  let portB: number;
  let idA: string;
  let idB: string;
  /** The replica that leads each partition (index: the partition), by the partition map; and each one's. */
  let map: string[];
  let ownA: number[];
  let ownB: number[];
  let config: string;

  /** The pid of the replica that leads each partition now (its lock held and its leader record), or undefined. */
  const leaders = () => partitionLeaderPids(suite.client, NAME, N);

  const ledAs = (what: string, want: readonly BeatProcess[], timeoutMs: number) =>
    waitUntil(
      what,
      async () => ((await leaders()).every((pid, p) => pid === want[p]?.pid) ? true : undefined),
      timeoutMs,
      () => suite.fleet.dump(),
    );

  const json = async <T>(port: number, path: string): Promise<T> => {
    const reply = await httpRequest(port, path);
    expect(reply.status, reply.body).toBe(200);
    return JSON.parse(reply.body) as T;
  };

  // Two replicas, each leading two partitions.
  beforeAll(async () => {
    // Every partition holds some of the entries (the split is CRC-32 of the name, fixed).
    for (let p = 0; p < N; p += 1) expect(inPartition(p).length).toBeGreaterThan(0);
    config = suite.dir.write(`${NAME}.json`, {
      name: NAME,
      partitions: N,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(NAMES.map((n) => [n, { task: `t.${n}`, schedule: 1 }])),
    });
    a = suite.fleet.spawn({ config, label: 'A', args: ['--http', '127.0.0.1:0'] });
    await ledAs('A leading every partition', [a, a, a, a], 15_000);
    b = suite.fleet.spawn({ config, label: 'B', args: ['--http', '127.0.0.1:0'] });
    [portA, portB] = await Promise.all([httpPortOf(a), httpPortOf(b)]);
    // HTTP listens before the replica has connected to Redis; /status answers 503 until it has.
    const instanceOf = (port: number) =>
      waitUntil(
        `/status on port ${String(port)}`,
        async () => {
          const reply = await httpRequest(port, '/status');
          return reply.status === 200 ? (JSON.parse(reply.body) as StatusJson).self.instance : undefined;
        },
        10_000,
        () => suite.fleet.dump(),
      );
    [idA, idB] = await Promise.all([instanceOf(portA), instanceOf(portB)]);
    // The map over the two (the same on both): A hands B its two.
    map = [...assignPartitions(N, [idA, idB])];
    [ownA, ownB] = [partitionsLedBy(map, idA), partitionsLedBy(map, idB)];
    await ledAs(
      `A leading ${ownA.join(' and ')}, B ${ownB.join(' and ')}`,
      map.map((id) => (id === idA ? a : b)),
      15_000,
    );
  }, 60_000);

  it("each replica's /metrics: the partitions it leads, the entries they hold, what it published by partition", async () => {
    const held = (ps: number[]): number => ps.reduce((n, p) => n + inPartition(p).length, 0);
    for (const [port, mine] of [
      [portA, ownA],
      [portB, ownB],
    ] as const) {
      const metrics = await waitUntil(
        `the metrics of the replica leading ${mine.join(' and ')}`,
        async () => {
          const m = parsePrometheus((await httpRequest(port, '/metrics')).body);
          const counted = mine.every(
            (p) => (sampleValue(m, 'tsbeat_partition_messages_published_total', { partition: String(p) }) ?? 0) > 0,
          );
          return counted && sampleValue(m, 'tsbeat_entries_held') === held([...mine]) ? m : undefined;
        },
        10_000,
        () => suite.fleet.dump(),
      );
      expect(sampleValue(metrics, 'tsbeat_partitions')).toBe(N);
      expect(sampleValue(metrics, 'tsbeat_partitions_led')).toBe(2);
      expect(sampleValue(metrics, 'tsbeat_leader')).toBe(1);
      // The per-entry counter keeps its labels: entry, task, queue.
      const perEntry = metrics.samples.filter((s) => s.name === 'tsbeat_messages_published_total');
      expect(perEntry.length).toBeGreaterThan(0);
      for (const s of perEntry) expect(Object.keys(s.labels).sort()).toEqual(['entry', 'queue', 'task']);
    }
  }, 30_000);

  it("/status and beat status: the partition map with since, every entry's partition, both replicas leaders of theirs", async () => {
    for (const [port, self] of [
      [portA, idA],
      [portB, idB],
    ] as const) {
      const status = await json<StatusJson>(port, '/status');
      // Each partition's assignee (the map over the registry), beside its leader: the same here.
      expect(status.partitions?.map((p) => [p.partition, p.leader, p.assigned, p.leading])).toEqual(
        map.map((id, p) => [p, id, id, id === self]),
      );
      for (const p of status.partitions ?? []) expect(p.since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(status.entries.map((e) => [e.name, e.partition])).toEqual(NAMES.map((n) => [n, partitionOf(n, N)]));
      expect(status.replicas.map((r) => [r.instance, r.role, r.partitions]).sort()).toEqual(
        [
          [idA, 'leader', ownA],
          [idB, 'leader', ownB],
        ].sort(),
      );
    }

    const cli = await runBeatCli(['status', '--config', config, '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const fromCli = JSON.parse(cli.stdout) as StatusJson;
    expect(fromCli.partitions?.map((p) => [p.partition, p.leader, p.assigned])).toEqual(map.map((id, p) => [p, id, id]));
    expect(fromCli.partitions?.every((p) => !('leading' in p))).toBe(true);
    expect(fromCli.entries.map((e) => [e.name, e.partition])).toEqual(NAMES.map((n) => [n, partitionOf(n, N)]));

    const text = await runBeatCli(['status', '--config', config]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`deployment ${NAME}: ${N} partitions, each with a leader`);
    expect(text.stdout).toMatch(/^REPLICA +ROLE +.* PARTITIONS\s*$/m);
    expect(text.stdout).toMatch(new RegExp(`^${escaped(idA)} +leader .* 2\\s*$`, 'm'));
    expect(text.stdout).toMatch(/^NAME +TASK +SCHEDULE +.* PARTITION\s*$/m);
    for (const n of NAMES) expect(text.stdout).toMatch(new RegExp(`^${n} +t\\.${n} .* ${partitionOf(n, N)}\\s*$`, 'm'));
  }, 30_000);

  it("the dashboard's API: the partition map and each replica's partitions, each row's partition and the filter, missed slots read from the entry's partition", async () => {
    const overview = await json<OverviewWire>(portA, '/ui/api/overview');
    expect(overview.self).toEqual({ instance: idA, role: 'leader' });
    expect(overview.leader).toBeNull();
    expect(overview.partitions?.map((p) => [p.partition, p.leader, p.assigned])).toEqual(map.map((id, p) => [p, id, id]));
    for (const p of overview.partitions ?? []) expect(p.lockExpiresInMs).toBeGreaterThan(0);
    expect(overview.replicas.map((r) => [r.instance, r.role, r.partitions]).sort()).toEqual(
      [
        [idA, 'leader', ownA],
        [idB, 'leader', ownB],
      ].sort(),
    );

    const page = await json<PageWire>(portA, '/ui/api/entries?limit=100');
    expect(page.rows.map((r) => [r.name, r.partition])).toEqual(NAMES.map((n) => [n, partitionOf(n, N)]));
    const third = await json<PageWire>(portA, '/ui/api/entries?partition=3');
    expect(third.rows.map((r) => r.name)).toEqual(inPartition(3));
    const bad = await httpRequest(portA, '/ui/api/entries?partition=x');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: 'partition=x: expected a whole number from 0 to 1023' });

    // A report of a slot that never ran, under the keys of a partition B leads (where its leader
    // writes it): the strip of A, which does not lead it, shows it.
    const theirs = ownB[0] as number;
    const entry = inPartition(theirs)[0] as string;
    const firstSlotMs = Date.now() - 10 * 60_000;
    await new RedisMissedSlots(suite.client, partitionKeys('tsbeat', NAME, theirs, N), silentLogger).record(entry, {
      firstSlotMs,
      count: 1,
      reason: 'skip_late',
      atMs: Date.now(),
    });
    const strips = await json<StripsWire>(portA, `/ui/api/strips?span=hour&name=${encodeURIComponent(entry)}`);
    const cell = strips.strips[entry]?.[Math.floor((firstSlotMs - strips.startMs) / strips.bucketMs)];
    expect(cell).toMatchObject({ kind: 'missed', counts: { missed: 1 } });
  }, 30_000);

  it.skipIf(!existsSync(CHROMIUM))(
    "the dashboard in headless Chromium: the partition map, the replicas with their partitions, the Partition column and filter, the entry's partition",
    async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const base = `http://127.0.0.1:${portA}`;
        await page.goto(`${base}/#/deployment`);
        const rows = page.locator('table.partitions tbody tr');
        await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(N);
        expect(
          await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-partition'), tr.getAttribute('data-leader')])),
        ).toEqual(map.map((id, p) => [String(p), id]));
        expect(await page.locator(`table.partitions tr[data-partition="${ownA[0]}"] td[data-label="Leader"]`).textContent()).toBe(
          `${idA} (this replica)`,
        );
        expect(await page.locator(`table.partitions tr[data-partition="${ownB[0]}"] td[data-label="Leader"]`).textContent()).toBe(idB);
        // Each led by its assignee.
        expect(await page.locator('table.partitions td[data-label="Assigned"]').allTextContents()).toEqual(map.map(() => '= leader'));
        expect(await page.locator('dl.facts').textContent()).toContain(`Partitions${N}, each with a leader, led by 2 replicas`);
        const replicas = page.locator('table.replicas tbody tr');
        await expect.poll(() => replicas.count()).toBe(2);
        expect(
          await page
            .locator(`table.replicas tr[data-replica="${idA}"]`)
            .evaluate((tr) => [tr.getAttribute('data-role'), tr.querySelector('td[data-label="Partitions"]')?.textContent]),
        ).toEqual(['leader', ownA.join(', ')]);
        expect(
          await page
            .locator(`table.replicas tr[data-replica="${idB}"]`)
            .evaluate((tr) => [tr.getAttribute('data-role'), tr.querySelector('td[data-label="Partitions"]')?.textContent]),
        ).toEqual(['leader', ownB.join(', ')]);
        await page.screenshot({ path: join(DOCS, 'dashboard-partitions.png'), fullPage: true });

        await page.goto(`${base}/#/`);
        await page.locator(`tr[data-entry="${NAMES[0]}"]`).waitFor({ timeout: 15_000 });
        const cells = (): Promise<(string | null)[][]> =>
          page
            .locator('tbody tr')
            .evaluateAll((trs) =>
              trs.map((tr) => [tr.getAttribute('data-entry'), tr.querySelector('td[data-label="Partition"]')?.textContent ?? null]),
            );
        expect(await cells()).toEqual(NAMES.map((n) => [n, String(partitionOf(n, N))]));
        await page.fill('input[name="partition"]', '3');
        await expect.poll(async () => (await cells()).map(([n]) => n)).toEqual(inPartition(3));

        const entry = inPartition(3)[0] as string;
        await page.goto(`${base}/#/entry/${encodeURIComponent(entry)}`);
        await page.locator('h1.entry-name').waitFor({ timeout: 15_000 });
        expect(await page.locator('dd[data-fact="Partition"]').textContent()).toBe('3');
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
