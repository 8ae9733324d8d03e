/**
 * Read before you publish, for RedBeat's keys and django-celery-beat's tables (issue 30): a leader
 * never publishes from a view of those sources taken before a gap (a new leadership, a pause) when
 * the sources changed during the gap, and a source that cannot be read then holds it up for a
 * bounded time only (DEFAULTS.readFirstMaxMs), after which it goes on with what it knew.
 *
 * Entries are written by the sources' own writers: RedBeat's save() and delete()
 * (test/support/redbeat_client.py) and Django's ORM (test/django_project/orm.py), on a private
 * Redis and a private PostgreSQL of this file. The oracle is the queue list: no slot of a deleted
 * entry after its delete returned, no run with the old args after an edit returned.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { pythonCelery } from '../support/celery.js';
import { startSourceWriters } from '../support/source-writers.js';
import type { QueuedArgs, SourceWriters } from '../support/source-writers.js';

const TASK = 'tsbeat_test.record';
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

/** What the writers changed, and when each change returned (epoch ms). */
interface Changes {
  readonly deleted: Map<string, number>;
  readonly edited: Map<string, number>;
}

const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

suite(`read before you publish: RedBeat and django sources${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let w: SourceWriters;
  let server: SourceWriters['server'];
  let pg: SourceWriters['pg'];
  let dbUrl = '';
  let orm: SourceWriters['orm'];
  let redbeat: SourceWriters['redbeat'];
  let hungTries = 0;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    w = await startSourceWriters();
    ({ server, pg, dbUrl, orm, redbeat } = w);
  }, 120_000);

  afterEach(async () => {
    await fleet.killAll();
    pg.thaw();
  });

  afterAll(async () => {
    await fleet.killAll();
    await w?.close();
    dir.remove();
  });

  /** Every run in `queue`, oldest first, with its args. */
  function queued(queue: string): Promise<QueuedArgs[]> {
    return w.queued(queue);
  }

  /** Entries every second, two in RedBeat (`<p>rb-gone`, `<p>rb-edited`) and two django rows, with args ['v1']. */
  async function createEntries(p: string, queue: string): Promise<string[]> {
    for (const name of [`${p}rb-gone`, `${p}rb-edited`])
      await redbeat.call({
        op: 'save',
        url: server.url(0),
        prefix: 'rb:',
        name,
        task: TASK,
        schedule: { interval: 1 },
        args: ['v1'],
        options: { queue },
      });
    for (const name of [`${p}dj-gone`, `${p}dj-edited`])
      await orm.call({ op: 'create', name, task: TASK, interval: { every: 1, period: 'seconds' }, args: ['v1'], queue });
    return [`${p}rb-gone`, `${p}rb-edited`, `${p}dj-gone`, `${p}dj-edited`];
  }

  /** Deletes the `gone` entries and gives the `edited` ones args ['v2'], each through its source's own writer. */
  async function change(p: string): Promise<Changes> {
    const changes: Changes = { deleted: new Map(), edited: new Map() };
    await redbeat.call({ op: 'delete', url: server.url(0), prefix: 'rb:', name: `${p}rb-gone` });
    changes.deleted.set(`${p}rb-gone`, Date.now());
    const queue = `${p}q`;
    await redbeat.call({
      op: 'save',
      url: server.url(0),
      prefix: 'rb:',
      name: `${p}rb-edited`,
      task: TASK,
      schedule: { interval: 1 },
      args: ['v2'],
      options: { queue },
    });
    changes.edited.set(`${p}rb-edited`, Date.now());
    await orm.call({ op: 'delete', name: `${p}dj-gone` });
    changes.deleted.set(`${p}dj-gone`, Date.now());
    await orm.call({ op: 'edit', name: `${p}dj-edited`, args: ['v2'] });
    changes.edited.set(`${p}dj-edited`, Date.now());
    return changes;
  }

  /** Runs published from a view older than a change: a deleted entry's slot after its delete, the old args after an edit. */
  function stale(runs: readonly QueuedArgs[], changes: Changes): string[] {
    const out: string[] = [];
    for (const run of runs) {
      const deletedMs = changes.deleted.get(run.entry);
      if (deletedMs !== undefined && run.slotMs > deletedMs)
        out.push(`${run.entry}: slot ${iso(run.slotMs)} published, though deleted at ${iso(deletedMs)}`);
      const editedMs = changes.edited.get(run.entry);
      if (editedMs !== undefined && run.slotMs > editedMs && run.args[0] !== 'v2')
        out.push(
          `${run.entry}: slot ${iso(run.slotMs)} published with args ${JSON.stringify(run.args)}, though edited at ${iso(editedMs)}`,
        );
    }
    return out;
  }

  /** Until every one of `names` is in `queue` `count` times. */
  async function runsOfEach(queue: string, names: readonly string[], count: number): Promise<void> {
    await waitUntil(
      `${String(count)} runs of each of ${names.join(', ')}`,
      async () => {
        const runs = await queued(queue);
        return names.every((name) => runs.filter((r) => r.entry === name).length >= count) ? true : undefined;
      },
      20_000,
      () => fleet.dump(),
    );
  }

  function config(name: string, lines: readonly string[]): string {
    return dir.write(
      `${name}.yaml`,
      [
        `name: ${name}`,
        `broker: { url: "${server.url(0)}" }`,
        ...lines,
        `sources: { redbeat: { keyPrefix: "rb:" }, django: { url: "${dbUrl}" } }`,
        '',
      ].join('\n'),
    );
  }

  /** Deletes what a case left in the sources, so that the next case's deployment does not run it. */
  async function removeEntries(names: readonly string[]): Promise<void> {
    for (const name of names) {
      if (name.includes('rb-')) await redbeat.call({ op: 'delete', url: server.url(0), prefix: 'rb:', name });
      else await orm.call({ op: 'delete', name }).catch(() => undefined);
    }
  }

  it('a standby that takes the lead reads the sources before its first publish', async () => {
    // Looks only a minute apart: a leader that took over from its last look (the load at its
    // start) would run the deleted entries and the old args for the rest of the test.
    const file = config('takeover', ['maxInterval: 60s', 'lock: { ttl: 2s, renewEvery: 500ms, retryEvery: 200ms }']);
    const names = await createEntries('t-', 't-q');
    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForLog('its catalog of the 4 entries', (l) => l.event === EVENTS.entriesChanged && l['total'] === 4, 20_000);
    await standby.waitForEvent(EVENTS.standby, 20_000);
    await runsOfEach('t-q', names, 2);

    // The leader freezes (past the lock's TTL: the standby takes over); the sources change meanwhile.
    leader.signal('SIGSTOP');
    const changes = await change('t-');
    await standby.waitForEvent(EVENTS.lockAcquired, 20_000);
    // Its catch-up of the failover's missed slots and two more seconds of runs.
    const tookOverMs = Date.now();
    await waitUntil(
      'the new leader to publish runs after its catch-up',
      async () => ((await queued('t-q')).some((r) => r.slotMs > tookOverMs + 2000) ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    const runs = await queued('t-q');
    expect(stale(runs, changes), fleet.dump()).toEqual([]);
    for (const name of changes.edited.keys()) expect(runs.some((r) => r.entry === name && r.args[0] === 'v2')).toBe(true);
    leader.signal('SIGKILL');
    await removeEntries(['t-rb-edited', 't-dj-edited']);
  }, 90_000);

  it('a leader paused under the TTL reads the sources before it publishes what fell due meanwhile', async () => {
    // Looks every 200 ms; the lock outlasts the pause (renewed every second, valid for 6 s).
    const file = config('paused', ['maxInterval: 200ms', 'lock: { ttl: 6s, renewEvery: 1s, retryEvery: 200ms }']);
    const names = await createEntries('p-', 'p-q');
    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
    await runsOfEach('p-q', names, 2);
    // Frozen just after a publish for 1 s (as the chaos tests' pause under the TTL): its timer, set
    // for the next slot, then fires less than a second late, which alone is no gap; a slot of each
    // entry fell due during the pause, after the changes, and its look of the sources too.
    const before = (await queued('p-q')).length;
    await waitUntil('a publish', async () => ((await queued('p-q')).length > before ? true : undefined), 5000);
    const stoppedMs = Date.now();
    leader.signal('SIGSTOP');
    const changes = await change('p-');
    await sleep(stoppedMs + 1000 - Date.now());
    const from = leader.logs.length;
    leader.signal('SIGCONT');
    const resumedMs = Date.now();
    await waitUntil(
      'runs after the pause',
      async () => ((await queued('p-q')).some((r) => r.slotMs > resumedMs + 1000) ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    const runs = await queued('p-q');
    expect(stale(runs, changes), leader.tail(40)).toEqual([]);
    for (const name of changes.edited.keys()) expect(runs.some((r) => r.entry === name && r.args[0] === 'v2')).toBe(true);
    // It kept the lead throughout: this was a pause, not a failover.
    expect(leader.events(EVENTS.standby, from)).toEqual([]);
    await removeEntries(['p-rb-edited', 'p-dj-edited']);
  }, 90_000);

  it('a new leader whose django database hangs goes on after a bounded wait, and says so', async () => {
    // A retry takes its own deployment, row and queue: the failed try's row and lock stay behind.
    hungTries += 1;
    const t = hungTries;
    const file = dir.write(
      'hung.yaml',
      [
        `name: hung-${t}`,
        `broker: { url: "${server.url(0)}" }`,
        'maxInterval: 1s',
        'lock: { ttl: 2s, renewEvery: 500ms, retryEvery: 200ms }',
        `sources: { django: { url: "${dbUrl}" } }`,
        'beatSchedule:',
        `  h-file: { task: tsbeat_test.record, schedule: 1, options: { queue: h-q-${t} } }`,
        '',
      ].join('\n'),
    );
    await orm.call({
      op: 'create',
      name: `h-dj-${t}`,
      task: TASK,
      interval: { every: 1, period: 'seconds' },
      args: ['v1'],
      queue: `h-q-${t}`,
    });
    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForEvent(EVENTS.standby, 20_000);
    await runsOfEach(`h-q-${t}`, ['h-file', `h-dj-${t}`], 2);

    // PostgreSQL stops answering (its processes frozen: connections stay open, queries never
    // return), then the leader hands over.
    pg.freeze();
    leader.signal('SIGTERM');
    const acquired = await standby.waitForEvent(EVENTS.lockAcquired, 20_000);
    // It publishes what it knows, the config file's entry and the django row alike, once the wait is over.
    const published = (entry: string) => (r: QueuedArgs) => r.entry === entry && r.slotMs > logTimeMs(acquired);
    await waitUntil(
      'the new leader to publish',
      async () => {
        const runs = await queued(`h-q-${t}`);
        return runs.some(published('h-file')) && runs.some(published(`h-dj-${t}`)) ? true : undefined;
      },
      DEFAULTS.readFirstMaxMs + 10_000,
      () => fleet.dump(),
    );
    const late = standby.events(EVENTS.entriesReadLate);
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({ waitedMs: DEFAULTS.readFirstMaxMs, origin: 'django' });
    expect(logTimeMs(late[0] as LogLine) - logTimeMs(acquired)).toBeGreaterThanOrEqual(DEFAULTS.readFirstMaxMs - 50);
    pg.thaw();
    await orm.call({ op: 'delete', name: `h-dj-${t}` });
  }, 90_000);
});
