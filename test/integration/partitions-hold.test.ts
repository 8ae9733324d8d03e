/**
 * `partitions: 4` with two `beat run` replicas as real processes on a private Redis (issue 34, step
 * E): a replica holds the entries of the partitions it leads alone (the second taking its two from
 * the first by hand-overs, as the partition map gives them), and a standby none, read from
 * each replica's /status (`partitions[].entries`) and its `beat.entries.held` and
 * `beat.entries.dropped` lines; a runtime entry written through one replica's API into a partition
 * the other leads is read there (GET, a backfill's dry run) and published by the other (the
 * message's origin names its pid); a reload (SIGHUP) keeps what a replica holds; and the partitions
 * of a replica SIGKILLed are taken over with their entries loaded, every (entry, slot) published
 * once, read from the broker's list.
 */
import { describe, expect, it } from 'vitest';
import { assignPartitions, partitionOf } from '../../src/core/partition.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { FAST_LOCK, partitionLeaderPids, pidOfInstance, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf } from '../support/ops.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';

const N = 4;
const TTL_MS = 2000;
const TOKEN = 'hold-token-0123456789abcdef';
/** Runtime entries that never come due in the test (hourly), and some every second. */
const IDLE = Array.from({ length: 400 }, (_, i) => `idle-${i}`);
const FAST = Array.from({ length: 16 }, (_, i) => `fast-${i}`);
/** The config file's entries, hourly too. */
const FILE = Array.from({ length: 8 }, (_, i) => `file-${i}`);

interface PartitionLine {
  partition: number;
  leading: boolean;
  entries: number;
}

describe('partitions: each replica holds its share', () => {
  const suite = beatSuite();

  const leaders = (name: string) => partitionLeaderPids(suite.client, name, N);

  async function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? (JSON.parse(text) as unknown) : text };
  }

  /** This replica's view of each partition in its /status: whether it leads it, and the entries it holds of it. */
  async function partitionsOf(port: number): Promise<PartitionLine[]> {
    const { json } = await call(port, 'GET', '/status');
    return (json as { partitions: PartitionLine[] }).partitions.map(({ partition, leading, entries }) => ({ partition, leading, entries }));
  }

  /** The pid in each published message's origin (`gen<pid>@host`), by entry. */
  async function publishers(): Promise<Map<string, Set<number>>> {
    const out = new Map<string, Set<number>>();
    for (const raw of await suite.client.lrange('celery', 0, -1)) {
      const headers = (JSON.parse(raw) as { headers: { beat_entry: string; origin: string } }).headers;
      const pid = Number(/^gen(\d+)@/.exec(headers.origin)?.[1]);
      const set = out.get(headers.beat_entry) ?? new Set<number>();
      set.add(pid);
      out.set(headers.beat_entry, set);
    }
    return out;
  }

  it("a standby holds nothing, a leader its partitions' entries; an entry written through the other replica is published by its partition's leader; a SIGKILLed replica's partitions are taken over with their entries, every slot once", async () => {
    const name = 'hold';
    await suite.client.flushdb();
    const client = suite.client;
    const store = new RedisEntryStore(client, schedulerKeys('tsbeat', name), new Set(FILE));
    await store.write(
      [
        ...IDLE.map((n) => ({ op: 'put' as const, name: n, entry: { task: `t.${n}`, schedule: 3600 } })),
        ...FAST.map((n) => ({ op: 'put' as const, name: n, entry: { task: `t.${n}`, schedule: 1, catchUp: 'all' } })),
      ],
      { nowMs: Date.now() },
    );
    const expected = (extra: readonly string[] = []): number[] => {
      const counts = new Array<number>(N).fill(0);
      for (const n of [...IDLE, ...FAST, ...FILE, ...extra]) counts[partitionOf(n, N)] = (counts[partitionOf(n, N)] ?? 0) + 1;
      return counts;
    };
    expect(expected().every((n) => n > 0)).toBe(true);
    const config = suite.dir.write(`${name}.json`, {
      name,
      partitions: N,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(FILE.map((n) => [n, { task: `t.${n}`, schedule: 3600 }])),
    });
    const tokens = suite.dir.write('tokens', `tester:${TOKEN}\n`);
    const http = ['--http', '127.0.0.1:0', '--api-token-file', tokens];
    const ledAs = (what: string, want: readonly BeatProcess[], timeoutMs: number) =>
      waitUntil(
        what,
        async () => ((await leaders(name)).every((pid, p) => pid === want[p]?.pid) ? true : undefined),
        timeoutMs,
        () => suite.fleet.dump(),
      );
    /** Waits until `port`'s /status says it leads `led` (each with its expected entries) and holds nothing of the rest. */
    const holds = (what: string, port: number, led: readonly number[], counts: readonly number[]) =>
      waitUntil(
        what,
        async () => {
          const want = counts.map((n, partition) => ({
            partition,
            leading: led.includes(partition),
            entries: led.includes(partition) ? n : 0,
          }));
          const got = await partitionsOf(port);
          return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
        },
        15_000,
        () => suite.fleet.dump(),
      );

    const a = suite.fleet.spawn({ config, label: 'A', args: http });
    const portA = await httpPortOf(a);
    await ledAs('A leading every partition', [a, a, a, a], 15_000);
    await holds("A holding every partition's entries", portA, [0, 1, 2, 3], expected());
    const b = suite.fleet.spawn({ config, label: 'B', args: http });
    const portB = await httpPortOf(b);
    // B stands by until A hands its share over (after three reads of the registry, ~2 s): its first
    // /status that answers shows it leading nothing and holding nothing, no runtime entry listed.
    const first = await waitUntil(
      "B's first /status",
      async () => {
        const reply = await call(portB, 'GET', '/status').catch(() => undefined);
        return reply?.status === 200 ? (reply.json as { partitions: PartitionLine[]; entries: { origin: string }[] }) : undefined;
      },
      15_000,
      () => suite.fleet.dump(),
    );
    expect(first.partitions.map(({ partition, leading, entries }) => ({ partition, leading, entries }))).toEqual(
      Array.from({ length: N }, (_, partition) => ({ partition, leading: false, entries: 0 })),
    );
    expect(first.entries.filter((e) => e.origin !== 'file')).toEqual([]);

    // The partition map gives each two: A hands B's over; B reads their entries, A forgets them
    // once its sessions of them stopped.
    const ids = await waitUntil(
      'A and B in the replicas registry',
      async () => {
        const live = await client.hkeys(schedulerKeys('tsbeat', name).replicas);
        return live.length === 2 ? live : undefined;
      },
      15_000,
      () => suite.fleet.dump(),
    );
    const byPid = new Map([a, b].map((p) => [p.pid, p]));
    const map = assignPartitions(N, ids).map((id) => byPid.get(pidOfInstance(id)) as BeatProcess);
    const ofA = [0, 1, 2, 3].filter((p) => map[p] === a);
    const ofB = [0, 1, 2, 3].filter((p) => map[p] === b);
    expect(ofB).toHaveLength(2);
    await ledAs('A and B leading the two the partition map gives each', map, 15_000);
    await holds('A holding its two', portA, ofA, expected());
    await holds('B holding its two', portB, ofB, expected());
    const runtimeOf = (p: number): number => [...IDLE, ...FAST].filter((n) => partitionOf(n, N) === p).length;
    const heldLines = (p: BeatProcess, event: string, from = 0) =>
      p
        .events(event, from)
        .map((l) => [l['partition'], l['entries']])
        .sort();
    // (The lines come before /status says so, but are read from the processes' output later.)
    await b.waitForLog('B reading its two', () => b.events('beat.entries.held').length >= 2, 5000);
    await a.waitForLog('A forgetting two', () => a.events('beat.entries.dropped').length >= 2, 5000);
    expect(heldLines(b, 'beat.entries.held')).toEqual(ofB.map((p) => [p, runtimeOf(p)]));
    expect(heldLines(a, 'beat.entries.dropped')).toEqual(ofB.map((p) => [p, runtimeOf(p)]));

    // A reload (SIGHUP) keeps what B holds: every partition reloads, none is dropped or read again.
    const linesBefore = b.logs.length;
    b.signal('SIGHUP');
    await b.waitForLog('B reloaded in every partition', () => b.events('beat.reload', linesBefore).length >= N, 10_000, linesBefore);
    await holds('B holding its two after the reload', portB, ofB, expected());
    expect([...b.events('beat.entries.held', linesBefore), ...b.events('beat.entries.dropped', linesBefore)]).toEqual([]);

    // Written through A's API into a partition B leads (and one through B's into A's): each is read
    // back where it was written, and published by its partition's leader alone.
    const toB = Array.from({ length: 50 }, (_, i) => `api-${i}`).find((n) => map[partitionOf(n, N)] === b) as string;
    const toA = Array.from({ length: 50 }, (_, i) => `api-${i}`).find((n) => map[partitionOf(n, N)] === a) as string;
    const definition = (n: string) => ({ task: `t.${n}`, schedule: 1, catchUp: 'all' });
    expect((await call(portA, 'PUT', `/api/entries/${toB}`, definition(toB))).status).toBe(201);
    expect((await call(portB, 'PUT', `/api/entries/${toA}`, definition(toA))).status).toBe(201);
    expect(await call(portA, 'GET', `/api/entries/${toB}`)).toMatchObject({ status: 200, json: { name: toB, entry: definition(toB) } });
    // A backfill planned on A for B's entry: A does not hold it, and reads it from the store.
    const now = Date.now();
    const dry = await call(portA, 'POST', `/api/entries/${toB}/backfill`, {
      from: new Date(now - 10_500).toISOString(),
      to: new Date(now - 5_500).toISOString(),
      dryRun: true,
    });
    expect(dry.status, JSON.stringify(dry.json)).toBe(200);
    const slots = (dry.json as { slots: string[] }).slots;
    expect(slots.length).toBeGreaterThanOrEqual(4);
    expect(slots.length).toBeLessThanOrEqual(6);
    await holds('B holding the entry written through A', portB, ofB, expected([toB, toA]));
    await holds('A holding the entry written through B', portA, ofA, expected([toB, toA]));
    await waitUntil(
      'both published',
      async () => {
        const by = await publishers();
        return by.has(toB) && by.has(toA) ? true : undefined;
      },
      5000,
      () => suite.fleet.dump(),
    );
    const by = await publishers();
    expect([...(by.get(toB) ?? [])]).toEqual([b.pid]);
    expect([...(by.get(toA) ?? [])]).toEqual([a.pid]);
    // A led every partition at first: B's partitions' entries were A's, then B's; A's only A's.
    for (const entry of FAST)
      if (map[partitionOf(entry, N)] === b) expect(by.get(entry)?.has(b.pid), entry).toBe(true);
      else expect([...(by.get(entry) ?? [])], entry).toEqual([a.pid]);

    // B dies without a word: A takes B's two within the TTL, reads their entries again, and
    // publishes the slots B left (catchUp: all) once.
    const heldBefore = a.events('beat.entries.held').length;
    b.signal('SIGKILL');
    await b.waitForExit(10_000);
    await ledAs('A leading every partition again', [a, a, a, a], TTL_MS + 4000);
    await holds("A holding every partition's entries again", portA, [0, 1, 2, 3], expected([toB, toA]));
    await a.waitForLog("A reading B's two again", () => a.events('beat.entries.held').length >= heldBefore + 2, 5000);
    expect(
      a
        .events('beat.entries.held')
        .slice(heldBefore)
        .map((l) => l['partition'])
        .sort(),
    ).toEqual(ofB);
    await sleep(2500);
    a.signal('SIGTERM');
    expect(await a.waitForExit(10_000), a.tail()).toEqual({ code: 0, signal: null });

    const runs = await readQueue(client);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const published = byEntry(runs);
    expect([...published.keys()].sort()).toEqual([...FAST, toB, toA].sort());
    for (const [entry, list] of published) {
      const report = checkSlots(entry, list, 1000, name);
      expect(report, entry).toMatchObject({ duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [], wrongIds: [] });
      expect(report.count).toBeGreaterThanOrEqual(4);
    }
    // The runs of B's partitions after its death are A's.
    const after = await publishers();
    expect([...(after.get(toB) ?? [])].sort()).toEqual([a.pid, b.pid].sort());
  });
});
