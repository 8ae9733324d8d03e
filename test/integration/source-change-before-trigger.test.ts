/**
 * Fence the entry, not only the leader (issue 30), for manual runs of RedBeat's keys and
 * django-celery-beat's rows: an edit or a delete that returned before a trigger is asked for is in
 * force for that manual run, though the leader's next look (maxInterval) is a minute away. The
 * leader checks the entry against its source before it publishes the run (before-publish.ts): an
 * edited entry runs with its new definition, a deleted one is an entry the leader lacks (its
 * request is discarded after DEFAULTS.triggerUnknownGraceMs, nothing published).
 *
 * The writers are the sources' own (test/support/source-writers.ts); the requests go through the
 * control keys as `beat trigger` and the API write them (ControlStore.requestTrigger), or through
 * `beat trigger` itself for a django row. The oracle is the queue list, by the request's task id.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomTaskId } from '../../src/celery/task-id.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { ControlStore } from '../../src/redis/control-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { pythonCelery } from '../support/celery.js';
import { runBeatCli } from '../support/ops.js';
import { startSourceWriters } from '../support/source-writers.js';
import type { QueuedArgs, SourceWriters } from '../support/source-writers.js';

const TASK = 'tsbeat_test.record';
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite(
  `a change of a RedBeat entry or a django row is in force for a manual run asked for after it${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let w: SourceWriters;

    beforeAll(async () => {
      if (!celery.ok) throw new Error(celery.problem);
      w = await startSourceWriters();
    }, 120_000);

    afterEach(async () => {
      await fleet.killAll();
    });

    afterAll(async () => {
      await fleet.killAll();
      await w?.close();
      dir.remove();
    });

    /** A deployment's name of its own for each try: a retry after a failure starts without its pending requests. */
    const deployment = (name: string): string => `${name}-${Date.now().toString(36)}`;

    /** Django rows of these names, with args ['v1'], created afresh (a retry after a failure finds the last try's). */
    async function createRows(names: readonly string[], queue: string, schedule: Record<string, unknown>): Promise<void> {
      for (const name of names) {
        await w.orm.call({ op: 'delete', name }).catch(() => undefined);
        await w.orm.call({ op: 'create', name, task: TASK, ...schedule, args: ['v1'], queue });
      }
    }

    /** Looks a minute apart: only the check before the manual run can bring a change in before it. */
    function config(name: string, source: string): string {
      return dir.write(
        `${name}.yaml`,
        [`name: ${name}`, `broker: { url: "${w.server.url(0)}" }`, 'maxInterval: 60s', `sources: { ${source} }`, ''].join('\n'),
      );
    }

    /** Asks the leader of deployment `name` for a manual run of `entry`, as `beat trigger` and the API do; returns its task id. */
    async function requestTrigger(name: string, entry: string): Promise<string> {
      const id = randomTaskId();
      await new ControlStore(w.redis, schedulerKeys('tsbeat', name)).requestTrigger({ entry, id, at: Date.now() });
      return id;
    }

    /** The run of task id `id` in `queue`, once it is there. */
    function published(queue: string, id: string, leader: BeatProcess): Promise<QueuedArgs> {
      return waitUntil(
        `the manual run ${id}`,
        async () => (await w.queued(queue)).find((r) => r.id === id),
        10_000,
        () => leader.tail(40),
      );
    }

    /**
     * The request for a deleted entry: nothing published, and the request discarded after the
     * grace an unknown entry's request has, as for a name the leader never had.
     */
    async function expectRefused(name: string, queue: string, id: string, entry: string, leader: BeatProcess): Promise<void> {
      const control = new ControlStore(w.redis, schedulerKeys('tsbeat', name));
      await waitUntil(
        `the request for ${entry} discarded`,
        async () => ((await control.pendingTriggers(10)).some((p) => p.request?.id === id) ? undefined : true),
        DEFAULTS.triggerUnknownGraceMs + 10_000,
        () => leader.tail(40),
      );
      await sleep(500);
      expect(
        (await w.queued(queue)).filter((r) => r.id === id),
        leader.tail(40),
      ).toEqual([]);
      expect(await control.wasTriggered(id)).toBe(false);
      expect(leader.events(EVENTS.trigger).filter((e) => e['entry'] === entry && e['id'] === id)).toEqual([]);
    }

    it('RedBeat: a manual run asked for right after a save runs the new args; after a delete, it is refused', async () => {
      const url = w.server.url(0);
      const queue = 'rbt-q';
      await w.redis.del(queue);
      const save = (name: string, args: unknown[]) =>
        w.redbeat.call({ op: 'save', url, prefix: 'ct:', name, task: TASK, schedule: { interval: 3600 }, args, options: { queue } });
      await save('rbt-gone', ['v1']);
      await save('rbt-edited', ['v1']);
      const rbtrig = deployment('rbtrig');
      const leader = fleet.spawn({ config: config(rbtrig, 'redbeat: { keyPrefix: "ct:" }'), label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      // The leader has both as they are: a manual run of each goes out with ['v1'].
      for (const entry of ['rbt-gone', 'rbt-edited'])
        expect((await published(queue, await requestTrigger(rbtrig, entry), leader)).args).toEqual(['v1']);

      await w.redbeat.call({ op: 'delete', url, prefix: 'ct:', name: 'rbt-gone' });
      await save('rbt-edited', ['v2']);
      const gone = await requestTrigger(rbtrig, 'rbt-gone');
      const edited = await requestTrigger(rbtrig, 'rbt-edited');
      const run = await published(queue, edited, leader);
      expect(run, leader.tail(40)).toMatchObject({ entry: 'rbt-edited', args: ['v2'] });
      await expectRefused(rbtrig, queue, gone, 'rbt-gone', leader);
      await w.redbeat.call({ op: 'delete', url, prefix: 'ct:', name: 'rbt-edited' });
    }, 90_000);

    it('django: `beat trigger` right after an ORM edit runs the new args; a request after a delete is refused', async () => {
      const queue = 'djt-q';
      await w.redis.del(queue);
      await createRows(['djt-gone', 'djt-edited'], queue, { interval: { every: 3600, period: 'seconds' } });
      const djtrig = deployment('djtrig');
      const file = config(djtrig, `django: { url: "${w.dbUrl}" }`);
      const leader = fleet.spawn({ config: file, label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      for (const entry of ['djt-gone', 'djt-edited'])
        expect((await published(queue, await requestTrigger(djtrig, entry), leader)).args).toEqual(['v1']);

      await w.orm.call({ op: 'edit', name: 'djt-edited', args: ['v2'] });
      const trigger = await runBeatCli(['trigger', 'djt-edited', '--config', file]);
      expect(trigger.code, trigger.stderr).toBe(0);
      const id = /^triggered djt-edited: task id (\S+)\n$/.exec(trigger.stdout)?.[1] ?? '';
      expect((await published(queue, id, leader)).args, leader.tail(40)).toEqual(['v2']);

      // `beat trigger` reads the rows itself and refuses a name deleted before it ran; a request it
      // wrote just before the delete (written here just after, as the leader sees it) is refused by the leader.
      await w.orm.call({ op: 'delete', name: 'djt-gone' });
      const gone = await requestTrigger(djtrig, 'djt-gone');
      await expectRefused(djtrig, queue, gone, 'djt-gone', leader);
      await w.orm.call({ op: 'delete', name: 'djt-edited' });
    }, 90_000);

    it('django: `beat backfill` right after an ORM edit publishes the new args', async () => {
      const queue = 'djb-q';
      await w.redis.del(queue);
      await createRows(['djb'], queue, { crontab: { minute: '*/10', timezone: 'UTC' } });
      const djback = deployment('djback');
      const file = config(djback, `django: { url: "${w.dbUrl}" }`);
      const leader = fleet.spawn({ config: file, label: 'leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
      // The leader has read the row (a manual run of it goes out with ['v1']).
      expect((await published(queue, await requestTrigger(djback, 'djb'), leader)).args).toEqual(['v1']);

      await w.orm.call({ op: 'edit', name: 'djb', args: ['v2'] });
      const toMs = Math.floor(Date.now() / 600_000) * 600_000 - 600_000;
      const fromMs = toMs - 2 * 3600_000;
      const iso = (ms: number): string => new Date(ms).toISOString();
      const run = await runBeatCli(['backfill', 'djb', '--config', file, '--from', iso(fromMs), '--to', iso(toMs), '--json'], {
        timeoutMs: 60_000,
      });
      expect(run.code, `${run.stderr}\n${leader.tail(40)}`).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ published: 13 });
      const runs = (await w.queued(queue)).filter((r) => r.entry === 'djb' && r.slotMs <= toMs);
      expect(runs.map((r) => r.slotMs).sort()).toEqual(Array.from({ length: 13 }, (_, i) => fromMs + i * 600_000));
      expect(
        runs.filter((r) => r.args[0] !== 'v2').map((r) => iso(r.slotMs)),
        leader.tail(40),
      ).toEqual([]);
      await w.orm.call({ op: 'delete', name: 'djb' });
    }, 120_000);
  },
);
