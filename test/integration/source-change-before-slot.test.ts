/**
 * Fence the entry, not only the leader (issue 30), for RedBeat's keys and django-celery-beat's
 * rows: an edit or a delete that returns a few hundred milliseconds before a slot of an entry due
 * every second is in force for that slot, though the leader's next look (maxInterval) is a minute
 * away. The leader checks those entries before each publish of them (django: the change marker
 * PeriodicTasks.last_update, RedBeat: the entries' definitions) and reads the source again when
 * they changed (src/runtime/read-first.ts). A database that hangs then holds other entries' publishes
 * up for DEFAULTS.readFirstMaxMs at most, once.
 *
 * The writers are the sources' own: RedBeat's save() and delete() (test/support/redbeat_client.py)
 * and Django's ORM (test/django_project/orm.py), on a private Redis and a private PostgreSQL. The
 * oracle is the queue list: no slot of a deleted entry after its delete returned, no slot with the
 * old args after an edit returned.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { pythonCelery } from '../support/celery.js';
import { startSourceWriters } from '../support/source-writers.js';
import type { QueuedArgs, SourceWriters } from '../support/source-writers.js';

const TASK = 'tsbeat_test.record';
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

/** When each change returned (epoch ms). */
interface Changes {
  readonly deletedMs: number;
  readonly editedMs: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

suite(
  `a change of a RedBeat entry or a django row is in force for the next slot${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let w: SourceWriters;
    let server: SourceWriters['server'];
    let pg: SourceWriters['pg'];
    let dbUrl = '';
    let orm: SourceWriters['orm'];
    let redbeat: SourceWriters['redbeat'];

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

    /** Looks a minute apart: only the check before each publish can bring a change in before the next slot. */
    function config(name: string, source: string, extra: readonly string[] = []): string {
      return dir.write(
        `${name}.yaml`,
        [`name: ${name}`, `broker: { url: "${server.url(0)}" }`, 'maxInterval: 60s', `sources: { ${source} }`, ...extra, ''].join('\n'),
      );
    }

    /** Sleeps until `leadMs` before the next slot of `entry` (every second) at least 700 ms away; returns that slot. */
    async function beforeASlot(queue: string, entry: string, leadMs: number): Promise<number> {
      const last = (await queued(queue)).filter((r) => r.entry === entry).at(-1);
      if (last === undefined) throw new Error(`no run of ${entry} yet`);
      let slotMs = last.slotMs + 1000;
      while (slotMs - Date.now() < 700) slotMs += 1000;
      await sleep(slotMs - leadMs - Date.now());
      return slotMs;
    }

    /**
     * Waits for two more seconds of runs after the changes, then expects none of a deleted entry
     * after its delete, none with the old args after the edit, and the edit's first slot after it
     * published with the new args.
     */
    async function expectInForce(queue: string, gone: string, edited: string, changes: Changes, slotMs: number, dump: () => string) {
      await waitUntil(
        'runs two seconds past the changes',
        async () => ((await queued(queue)).some((r) => r.entry === edited && r.slotMs > changes.editedMs + 2000) ? true : undefined),
        20_000,
        dump,
      );
      const runs = await queued(queue);
      const wrong: string[] = [];
      for (const run of runs) {
        if (run.entry === gone && run.slotMs > changes.deletedMs)
          wrong.push(`${gone}: slot ${iso(run.slotMs)} published, though deleted at ${iso(changes.deletedMs)}`);
        if (run.entry === edited && run.slotMs > changes.editedMs && run.args[0] !== 'v2')
          wrong.push(
            `${edited}: slot ${iso(run.slotMs)} published with ${JSON.stringify(run.args)}, though edited at ${iso(changes.editedMs)}`,
          );
      }
      expect(wrong, `slot ${iso(slotMs)}, changes returned at ${iso(changes.deletedMs)} and ${iso(changes.editedMs)}\n${dump()}`).toEqual(
        [],
      );
      const next = runs.find((r) => r.entry === edited && r.slotMs > changes.editedMs);
      expect(next?.args).toEqual(['v2']);
      expect(next?.slotMs).toBeLessThanOrEqual(changes.editedMs + 1000);
    }

    it('RedBeat: a save and a delete ~250 ms before a slot are in force for it', async () => {
      const url = server.url(0);
      const queue = 'rb-q';
      const save = (name: string, args: unknown[]) =>
        redbeat.call({ op: 'save', url, prefix: 'cb:', name, task: TASK, schedule: { interval: 1 }, args, options: { queue } });
      await save('rb-gone', ['v1']);
      await save('rb-edited', ['v1']);
      const leader = fleet.spawn({ config: config('rbslot', 'redbeat: { keyPrefix: "cb:" }'), label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      await runsOfEach(queue, ['rb-gone', 'rb-edited'], 3);

      const slotMs = await beforeASlot(queue, 'rb-edited', 250);
      await redbeat.call({ op: 'delete', url, prefix: 'cb:', name: 'rb-gone' });
      const deletedMs = Date.now();
      await save('rb-edited', ['v2']);
      const editedMs = Date.now();
      await expectInForce(queue, 'rb-gone', 'rb-edited', { deletedMs, editedMs }, slotMs, () => leader.tail(40));
      await redbeat.call({ op: 'delete', url, prefix: 'cb:', name: 'rb-edited' });
    }, 90_000);

    it('django: an ORM edit and delete ~250 ms before a slot are in force for it', async () => {
      const queue = 'dj-q';
      for (const name of ['dj-gone', 'dj-edited'])
        await orm.call({ op: 'create', name, task: TASK, interval: { every: 1, period: 'seconds' }, args: ['v1'], queue });
      const leader = fleet.spawn({ config: config('djslot', `django: { url: "${dbUrl}" }`), label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      await runsOfEach(queue, ['dj-gone', 'dj-edited'], 3);

      const slotMs = await beforeASlot(queue, 'dj-edited', 250);
      await orm.call({ op: 'delete', name: 'dj-gone' });
      const deletedMs = Date.now();
      await orm.call({ op: 'edit', name: 'dj-edited', args: ['v2'] });
      const editedMs = Date.now();
      await expectInForce(queue, 'dj-gone', 'dj-edited', { deletedMs, editedMs }, slotMs, () => leader.tail(40));
      await orm.call({ op: 'delete', name: 'dj-edited' });
    }, 90_000);

    it('django: a database that hangs while leading holds the other entries up once, for the bound at most', async () => {
      const queue = 'hang-q';
      await orm.call({ op: 'create', name: 'hang-dj', task: TASK, interval: { every: 1, period: 'seconds' }, args: ['v1'], queue });
      const file = config('djhang', `django: { url: "${dbUrl}" }`, [
        'beatSchedule:',
        `  hang-file: { task: ${TASK}, schedule: 1, catchUp: all, options: { queue: ${queue} } }`,
      ]);
      const leader = fleet.spawn({ config: file, label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      await runsOfEach(queue, ['hang-file', 'hang-dj'], 3);

      // PostgreSQL stops answering: connections stay open, queries never return.
      pg.freeze();
      const frozenMs = Date.now();
      const after = DEFAULTS.readFirstMaxMs + 3000;
      await waitUntil(
        'the config file entry and the django row published past the wait',
        async () => {
          const runs = await queued(queue);
          return ['hang-file', 'hang-dj'].every((e) => runs.some((r) => r.entry === e && r.slotMs > frozenMs + after)) ? true : undefined;
        },
        after + 15_000,
        () => leader.tail(40),
      );
      // Said once: the publishes after it do not wait for the hung check again.
      const late = leader.events(EVENTS.entriesReadLate);
      expect(late, leader.tail(40)).toHaveLength(1);
      expect(late[0]).toMatchObject({ waitedMs: DEFAULTS.readFirstMaxMs, origin: 'django' });
      // Every slot of the file's entry went out (catchUp: all), held up by the bound at most (above).
      const fileRuns = (await queued(queue)).filter((r) => r.entry === 'hang-file' && r.slotMs > frozenMs - 1000);
      for (let i = 1; i < fileRuns.length; i += 1)
        expect((fileRuns[i] as QueuedArgs).slotMs - (fileRuns[i - 1] as QueuedArgs).slotMs).toBe(1000);

      // Answering again, its changes are in force before the next slot once more.
      pg.thaw();
      await sleep(1500);
      const slotMs = await beforeASlot(queue, 'hang-dj', 250);
      await orm.call({ op: 'edit', name: 'hang-dj', args: ['v2'] });
      const editedMs = Date.now();
      await waitUntil(
        'runs past the edit',
        async () => ((await queued(queue)).some((r) => r.entry === 'hang-dj' && r.slotMs > editedMs + 2000) ? true : undefined),
        20_000,
        () => leader.tail(40),
      );
      const stale = (await queued(queue)).filter((r) => r.entry === 'hang-dj' && r.slotMs > editedMs && r.args[0] !== 'v2');
      expect(
        stale.map((r) => iso(r.slotMs)),
        `slot ${iso(slotMs)}, edited at ${iso(editedMs)}\n${leader.tail(40)}`,
      ).toEqual([]);
      await orm.call({ op: 'delete', name: 'hang-dj' });
    }, 120_000);
  },
);
