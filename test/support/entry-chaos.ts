/**
 * Issue 30's chaos proof, shared by its variants (test/integration/entry-chaos*.test.ts): three
 * `beat run` replicas whose leader is SIGKILLed (a replacement is started), SIGSTOPped under the
 * lock's TTL (it keeps the lock) and past it (a standby leads, the paused one wakes deposed); writers
 * that create, edit, delete and re-create entries through some way in (the HTTP API, RedBeat's code,
 * Django's ORM) while it happens; and the oracle: the queue list read directly, every run's args
 * naming its entry, its incarnation (the writer's count of creations of the name) and its
 * definition's version (the writer's count of edits), held to what the writer did and when.
 */
import type { Redis } from 'ioredis';
import { afterAll, expect } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { fastSourcesYaml, logTimeMs, pidOfInstance, sleep, waitUntil } from './beat-process.js';
import type { BeatFleet, BeatProcess } from './beat-process.js';
import { checkSlots, decodeEnvelope, duplicates } from './beat-queue.js';
import type { QueuedRun } from './beat-queue.js';
import { beatSuite } from './beat-suite.js';
import type { BeatSuite } from './beat-suite.js';

/** A run as the queue holds it, with the args the writer gave it: [name, incarnation, version]. */
export interface ChaosRun extends QueuedRun {
  readonly incarnation: number;
  readonly version: number;
}

/** What the writer did to one incarnation of a name, with when its requests started and returned. */
export interface Life {
  readonly createdMs: number;
  /** When each edit that replaced version v returned: replacedMs[v] (v = 0, 1, …). */
  readonly replacedMs: number[];
  deletedMs?: number;
}

/** A way in: writes one entry's definition (creating or replacing it) or deletes it; resolves once it is done. */
export interface EntryWriter {
  put(name: string, args: [string, number, number], stable: boolean): Promise<void>;
  remove(name: string): Promise<void>;
}

/** Every run in the queue list, oldest first, with the writer's args decoded. */
export async function readChaosRuns(redis: Redis, queue: string): Promise<ChaosRun[]> {
  return (await redis.lrange(queue, 0, -1)).reverse().map((text) => {
    const run = decodeEnvelope(text);
    const envelope = JSON.parse(text) as { body: string };
    const [args] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as [[string, number, number]];
    return { ...run, incarnation: args[1], version: args[2] };
  });
}

/** The replicas and the faults done to them; `stopped` and `inFlight` let writers keep off a paused one. */
export class ChaosReplicas {
  /** Replicas paused now (SIGSTOP): a writer through them does not send them requests, which would hang. */
  readonly stopped = new Set<BeatProcess>();
  /** Requests in flight per replica: one is paused only once its requests have returned (a paused
   * replica would apply a write late, after the writer gave up on it and went on). */
  readonly inFlight = new Map<BeatProcess, number>();
  readonly faults: string[] = [];
  /** When the last SIGSTOP was sent (0: none yet). */
  lastPauseMs = 0;
  /** Other events of the run (a database stopped), with their times, for a failure's explanation. */
  readonly marks: string[] = [];

  constructor(
    readonly fleet: BeatFleet,
    private readonly redis: Redis,
    private readonly deployment: string,
    private readonly spawn: () => Promise<BeatProcess>,
  ) {}

  /** The replica that leads now: named by the leader hash, alive, its last leadership event an acquisition. */
  async currentLeader(): Promise<BeatProcess | undefined> {
    const info = (await this.redis.hgetall(schedulerKeys('tsbeat', this.deployment).leader)) as { instance?: string };
    const p = info.instance === undefined ? undefined : this.fleet.byPid(pidOfInstance(info.instance));
    if (p === undefined || !p.alive || this.stopped.has(p)) return undefined;
    const last = [...p.logs]
      .reverse()
      .find((l) => l.event?.startsWith('beat.lock.') && l.event !== 'beat.lock.renew_failed' && l.event !== 'beat.lock.handover');
    return last?.event === EVENTS.lockAcquired ? p : undefined;
  }

  leader(): Promise<BeatProcess> {
    return waitUntil(
      'a leader',
      () => this.currentLeader(),
      20_000,
      () => this.fleet.dump(),
    );
  }

  /** Kill, pause under the TTL (1 s of 2 s), pause past it (4 s), in turn, 1.5 s apart, until 6 s before `endMs`. */
  async run(endMs: number): Promise<void> {
    const kinds = ['kill', 'stop-under', 'stop-past'] as const;
    for (let i = 0; Date.now() < endMs - 6000; i += 1) {
      await sleep(1500);
      const leader = await this.leader();
      const kind = kinds[i % kinds.length] as (typeof kinds)[number];
      this.faults.push(`${kind}@${new Date().toISOString().slice(11, 23)}`);
      if (kind === 'kill') {
        leader.signal('SIGKILL');
        await leader.waitForExit(5000);
        await this.spawn();
      } else {
        this.stopped.add(leader);
        await waitUntil('its requests to return', async () => ((this.inFlight.get(leader) ?? 0) === 0 ? true : undefined), 5000);
        this.lastPauseMs = Date.now();
        leader.signal('SIGSTOP');
        await sleep(kind === 'stop-under' ? 1000 : 4000);
        leader.signal('SIGCONT');
        this.stopped.delete(leader);
      }
    }
  }

  /** Waits until no replica has been paused for `ms` (each running one has looked at its sources since). */
  async unpausedFor(ms: number): Promise<void> {
    for (;;) {
      await waitUntil('no replica paused', () => (this.stopped.size === 0 ? true : undefined), 20_000);
      const sinceMs = Date.now();
      await sleep(ms);
      if (this.lastPauseMs < sinceMs) return;
    }
  }

  mark(what: string): void {
    this.marks.push(`${what}@${new Date().toISOString().slice(11, 23)}`);
  }

  /** SIGCONT for any replica left paused (a failed test), before the fleet is killed. */
  release(): void {
    for (const p of this.stopped) p.signal('SIGCONT');
  }
}

/** The source variants' suite (entry-chaos-django, entry-chaos-redbeat): beatSuite's, and their replicas. */
export interface SourceChaosSuite {
  readonly suite: BeatSuite;
  /** Writes the deployment's config (`<deployment>.yaml`, reading `sources`, a YAML flow mapping), starts three replicas of it and waits for a leader. */
  readonly start: (sources: string) => Promise<ChaosReplicas>;
}

/** Call in a describe block: beatSuite(), and SIGCONT for any replica left paused before its fleet is killed. */
export function sourceChaosSuite(deployment: string): SourceChaosSuite {
  const suite = beatSuite();
  let replicas: ChaosReplicas | undefined;
  // Registered after beatSuite's afterAll, so it runs first (vitest runs "after" hooks as a stack).
  afterAll(() => replicas?.release());
  return {
    suite,
    start: async (sources) => {
      const file = suite.dir.write(`${deployment}.yaml`, fastSourcesYaml(deployment, suite.redis.url(0), sources));
      const spawn = async (): Promise<BeatProcess> => Promise.resolve(suite.fleet.spawn({ config: file }));
      const chaos = new ChaosReplicas(suite.fleet, suite.client, deployment, spawn);
      replicas = chaos;
      await Promise.all([spawn(), spawn(), spawn()]);
      await chaos.leader();
      return chaos;
    },
  };
}

export interface OracleOptions {
  /** Names that exist throughout and are only edited: none of their slots may be lost. */
  readonly stable: readonly string[];
  /** Their interval. */
  readonly stableIntervalMs: number;
  /** The config's `name`: part of every slot's task id. */
  readonly deployment: string;
  /**
   * How long after a delete or an edit returned the old definition may still publish. 0 for the
   * store, whose publish fences each entry's incarnation and version; 0 too for RedBeat's entries
   * and django's rows, fenced by incarnation only in the publish but checked before each publish
   * (src/runtime/read-first.ts).
   */
  readonly lagMs: number;
}

/** The writer's record of every incarnation and version, and the checks of the runs against it. */
export class ChaosOracle {
  readonly lives = new Map<string, Life[]>();
  readonly versions = new Map<string, number>();
  writes = 0;
  /** Runs of an old definition allowed only by `lagMs` (their slot within it after the delete or edit), at the last check. */
  lagged = 0;

  constructor(
    private readonly writer: EntryWriter,
    readonly options: OracleOptions,
  ) {}

  private isStable(name: string): boolean {
    return this.options.stable.includes(name);
  }

  async create(name: string): Promise<void> {
    const list = this.lives.get(name) ?? [];
    const incarnation = list.length;
    this.versions.set(name, 0);
    const startMs = Date.now();
    await this.writer.put(name, [name, incarnation, 0], this.isStable(name));
    list.push({ createdMs: startMs, replacedMs: [] });
    this.lives.set(name, list);
  }

  async edit(name: string): Promise<void> {
    const list = this.lives.get(name) ?? [];
    const life = list[list.length - 1] as Life;
    const version = (this.versions.get(name) ?? 0) + 1;
    this.versions.set(name, version);
    await this.writer.put(name, [name, list.length - 1, version], this.isStable(name));
    life.replacedMs.push(Date.now());
  }

  async remove(name: string): Promise<void> {
    const list = this.lives.get(name) ?? [];
    await this.writer.remove(name);
    (list[list.length - 1] as Life).deletedMs = Date.now();
    this.versions.delete(name);
  }

  /** One writer on names of its own (one name's writes stay in order, as the checks need), until `endMs`. */
  async write(names: readonly string[], random: () => number, endMs: number, ready: () => Promise<void> = async () => {}): Promise<void> {
    const stable = names.every((n) => this.isStable(n));
    while (Date.now() < endMs) {
      await ready();
      const name = names[Math.floor(random() * names.length)] as string;
      const exists = this.versions.has(name);
      if (stable || (exists && random() < 0.5)) await this.edit(name);
      else if (exists) await this.remove(name);
      else await this.create(name);
      this.writes += 1;
      await sleep(50 + Math.floor(random() * 100));
    }
  }

  recreations(): number {
    return [...this.lives.values()].reduce((n, list) => n + list.length - 1, 0);
  }

  /** Every stable entry has published a slot `afterMs` or later. */
  settled(runs: readonly ChaosRun[], afterMs: number): boolean {
    return this.options.stable.every((name) => runs.some((r) => r.entry === name && r.slotMs >= afterMs));
  }

  /** Stable entries' grid reports: every slot from the first to the last, once, on the grid, with its slot's id. */
  stableReports(runs: readonly ChaosRun[]): { name: string; missing: number[]; offGrid: number[]; wrongIds: string[]; spanMs: number }[] {
    return this.options.stable.map((name) => {
      const report = checkSlots(
        name,
        runs.filter((r) => r.entry === name),
        this.options.stableIntervalMs,
        this.options.deployment,
      );
      return {
        name,
        missing: report.missingSlots,
        offGrid: report.offGrid,
        wrongIds: report.wrongIds,
        spanMs: report.lastMs - report.firstMs,
      };
    });
  }

  /** The runs that break the writer's record, each with its problem and when the definition ended. */
  wrongRuns(runs: readonly ChaosRun[]): { run: ChaosRun; problem: string; sinceMs: number }[] {
    const wrong: { run: ChaosRun; problem: string; sinceMs: number }[] = [];
    const lag = this.options.lagMs;
    this.lagged = 0;
    const iso = (ms: number): string => new Date(ms).toISOString();
    for (const run of runs) {
      const life = this.lives.get(run.entry)?.[run.incarnation];
      const at = `${run.entry}#${String(run.incarnation)}v${String(run.version)} slot ${iso(run.slotMs)}`;
      if (life === undefined) {
        wrong.push({ run, problem: `${at}: no such incarnation`, sinceMs: run.slotMs });
        continue;
      }
      if (run.slotMs < life.createdMs)
        wrong.push({ run, problem: `${at}: before its creation (${iso(life.createdMs)})`, sinceMs: run.slotMs });
      const replaced = life.replacedMs[run.version];
      const ended = Math.min(replaced ?? Infinity, life.deletedMs ?? Infinity);
      if (run.slotMs > ended && run.slotMs <= ended + lag) this.lagged += 1;
      if (life.deletedMs !== undefined && run.slotMs > life.deletedMs + lag)
        wrong.push({ run, problem: `${at}: after its delete (${iso(life.deletedMs)})`, sinceMs: life.deletedMs });
      if (replaced !== undefined && run.slotMs > replaced + lag)
        wrong.push({ run, problem: `${at}: after its edit (${iso(replaced)})`, sinceMs: replaced });
    }
    return wrong;
  }

  duplicates(runs: readonly ChaosRun[]): { slots: string[]; ids: string[] } {
    return duplicates(runs);
  }
}

/** For a failure: which replica published each wrong run, when, and what it logged from the change to the publish. */
function explain(replicas: ChaosReplicas, wrong: readonly { run: ChaosRun; problem: string; sinceMs: number }[]): string {
  const quiet = new Set<string>([EVENTS.fire, EVENTS.stale]);
  const lines = [`faults: ${replicas.faults.join(' ')}; ${replicas.marks.join(' ')}`];
  for (const { run, problem, sinceMs } of wrong.slice(0, 5)) {
    lines.push(problem);
    for (const p of replicas.fleet.all) {
      const fire = p.logs.find((l) => l.event === EVENTS.fire && l['id'] === run.id);
      if (fire === undefined) continue;
      lines.push(`  published by ${p.label} (pid ${String(p.pid)}) at ${fire.time}; its log since the change:`);
      for (const l of p.logs)
        if (l.event !== undefined && !quiet.has(l.event) && logTimeMs(l) >= sinceMs - 500 && logTimeMs(l) <= logTimeMs(fire))
          lines.push(`    ${l.time} ${l.event} ${JSON.stringify(l['examples'] ?? l['entry'] ?? l['err'] ?? '')}`);
    }
  }
  return lines.join('\n');
}

export interface ScenarioOptions {
  readonly label: string;
  readonly replicas: ChaosReplicas;
  readonly oracle: ChaosOracle;
  /** The broker's Redis and the queue list the entries publish to (the tap). */
  readonly redis: Redis;
  readonly queue: string;
  /** Names deleted and created again; split between two writers (the oracle's stable names have the third). */
  readonly churn: readonly string[];
  readonly chaosMs: number;
  readonly random: () => number;
  /** Awaited by the writers before each write (a database being restarted). */
  readonly ready?: () => Promise<void>;
  /** Another fault run alongside the replicas' (a database stopped and started), given the chaos's end. */
  readonly alongside?: (endMs: number) => Promise<void>;
}

/**
 * Creates every name, runs three writers (the stable names, and the churn names in two halves) and
 * the faults for `chaosMs`, waits until every stable entry has published a slot 2 s after the end,
 * kills the replicas and holds the queue to the writer's record: nothing twice, no stable slot lost,
 * no run of a deleted, replaced or not yet created definition. Returns a summary line.
 */
export async function chaosScenario(o: ScenarioOptions): Promise<string> {
  const { oracle, replicas } = o;
  const { stable, stableIntervalMs } = oracle.options;
  for (const name of [...stable, ...o.churn]) await oracle.create(name);
  const startedMs = Date.now();
  const endMs = startedMs + o.chaosMs;
  const half = Math.ceil(o.churn.length / 2);
  const writers = Promise.all([
    oracle.write(stable, o.random, endMs, o.ready),
    oracle.write(o.churn.slice(0, half), o.random, endMs, o.ready),
    oracle.write(o.churn.slice(half), o.random, endMs, o.ready),
  ]);
  await Promise.all([writers, replicas.run(endMs), o.alongside?.(endMs)]);
  const chaosEndMs = Date.now();

  await waitUntil(
    'every stable entry to publish a slot 2 s after the chaos',
    async () => (oracle.settled(await readChaosRuns(o.redis, o.queue), chaosEndMs + 2000) ? true : undefined),
    20_000 + stableIntervalMs,
    () => replicas.fleet.dump(),
  );
  await replicas.fleet.killAll();
  const runs = await readChaosRuns(o.redis, o.queue);

  // Nothing twice.
  expect(oracle.duplicates(runs)).toEqual({ slots: [], ids: [] });
  // Nothing lost of the entries that existed throughout (edits keep their grid).
  for (const report of oracle.stableReports(runs)) {
    expect({ ...report, spanMs: 0 }).toEqual({ name: report.name, missing: [], offGrid: [], wrongIds: [], spanMs: 0 });
    expect(report.spanMs).toBeGreaterThanOrEqual(o.chaosMs - stableIntervalMs);
  }
  // Every run held to what the writer did, and when.
  const wrong = oracle.wrongRuns(runs);
  expect(
    wrong.map((w) => w.problem),
    explain(replicas, wrong),
  ).toEqual([]);
  expect(new Set(replicas.faults.map((f) => f.split('@')[0]))).toEqual(new Set(['kill', 'stop-under', 'stop-past']));
  expect(oracle.recreations()).toBeGreaterThan(10);
  const churnRuns = runs.filter((r) => o.churn.includes(r.entry)).length;
  return (
    `${o.label}: ${String(oracle.writes)} writes in ${String(Math.round((chaosEndMs - startedMs) / 1000))} s, ` +
    `${String(oracle.recreations())} re-creations, ${String(replicas.faults.length)} faults; ` +
    `${String(runs.length)} runs checked (${String(churnRuns)} of re-created or deleted entries, ` +
    `${String(oracle.lagged)} of an old definition within ${String(oracle.options.lagMs)} ms of its change)`
  );
}
