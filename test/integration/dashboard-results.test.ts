/**
 * What the dashboard shows of runs that happened, in Debian's Chromium (playwright-core) against a
 * real `beat run` leader and standby, a real Celery worker and a Redis result backend (a private
 * redis-server: broker and state on DB 0, results on DB 1): a failing and a succeeding entry told
 * apart in the list (and by its failing filter), an entry's history table equal to `beat history
 * --json`, a retried slot as one row with its attempts under it, a standby's page showing the same as the leader's, and the past hour's strips colouring
 * a failed slot, a slot skipped by overlap and slots missed while the leader was down; an entry
 * routed to a queue no worker consumes marked unconsumed in its own colour (its badge, and its
 * pending run's cell in the past day's strip). Oracles:
 * `beat history` (it reads the histories in Redis), the states the worker's tasks are written to
 * end in, and the leader's own log of a skip.
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_BURST_QUIET_MS } from '../../src/outcomes/tracker.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { httpPortOf, killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const CHROMIUM = '/usr/bin/chromium';
const DOCS = join(import.meta.dirname, '../../docs/images');
const celery = pythonCelery();
const ready = existsSync(CHROMIUM) && (celery.ok || process.env['CI'] !== undefined);

interface RunJson {
  taskId: string;
  state: string;
  slot: string;
  publishedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeSeconds: number | null;
  exception: string | null;
  origin: string;
  parts?: PartJson[];
  /** The slot's attempts (control/slot-view.ts): `taskId` and `state` above are the last one's. */
  slotTaskId: string;
  attemptCount: number;
  maxAttempts: number | null;
  attempts: { taskId: string; attempt: number; state: string; exception: string | null }[];
}

interface PartJson {
  path: string;
  task: string;
  id: string;
  state: string;
  final: boolean;
  result?: unknown;
  exception?: string;
}

interface StatusJson {
  name: string;
  paused: boolean;
  pauseNote: { note: string; by: string; at: string } | null;
}

interface AuditJson {
  id: string;
  entry: string;
  action: string;
  who: string;
  note?: string;
}

const FINAL = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'unknown']);

describe.skipIf(!ready)('the dashboard shows what happened (real worker, result backend, leader and standby)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  const workers: CeleryProcess[] = [];
  let leader: BeatProcess;
  let standby: BeatProcess;
  let browser: Browser;
  let file: string;
  const bases: string[] = [];

  /**
   * A deployment's config on the private Redis, every one with these entries: the file's leader and
   * standby run one, and the test that kills its leader starts one of its own (a fresh name on each
   * attempt, so that a retry finds none of the first attempt's processes, lock or histories).
   */
  const deployment = (name: string): string =>
    dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      maxInterval: '200ms',
      lock: FAST_LOCK,
      consumers: { every: '1s', unconsumedAfter: '2s', replyWindow: '500ms' },
      beatSchedule: {
        'billing-sync': { task: 'tsbeat_test.fail', schedule: 1 },
        // Routed to a queue no worker reads: its runs wait unread, and the leader flags the queue.
        misrouted: { task: 'tsbeat_test.ok', schedule: 60, options: { queue: 'dash-nobody' } },
        healthy: { task: 'tsbeat_test.ok', schedule: 1 },
        // Runs 2.5 s every second: the slots that come while one runs are skipped (overlap), not missed (catchUp all).
        'slow-skip': {
          task: 'tsbeat_test.sleepy',
          schedule: 1,
          args: [2.5],
          overlap: 'skip',
          catchUp: 'all',
          options: { queue: 'dash-results-slow' },
        },
        // Always fails: paused by pauseOnFailure after its second failure in a row.
        'give-up': { task: 'tsbeat_test.fail', schedule: 1, pauseOnFailure: 2 },
        // Slots that pass while no one leads are missed, not caught up.
        'late-skip': { task: 'tsbeat_test.ok', schedule: 1, catchUp: 'skip' },
        // A chain whose second step fails, run by hand only (its schedule's first run is a day away).
        pipeline: {
          schedule: 86_400,
          chain: [
            { task: 'tsbeat_test.add', args: [1, 1] },
            { task: 'tsbeat_test.fail', immutable: true },
            { task: 'tsbeat_test.add', args: [1] },
          ],
        },
        // A concurrency group of one whose queue nobody reads (issue 70): its first run stays in flight, the next wait.
        ...Object.fromEntries(
          ['queued-a', 'queued-b'].map((e) => [
            e,
            { task: 'tsbeat_test.ok', schedule: 2, options: { queue: 'dash-nobody' }, concurrency: { group: 'night', limit: 1 } },
          ]),
        ),
        // Fails twice, then succeeds: a slot of three attempts (issue 70), run by hand only.
        flaky: {
          task: 'tsbeat_test.fail_twice',
          schedule: 86_400,
          retry: { attempts: 3, backoff: { initial: '1s', factor: 1, max: '1s' } },
        },
      },
    });

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    file = deployment(uniqueName('dash-results'));
    const env = { broker: redis.url(0), backend: redis.url(1) };
    workers.push(
      ...(await Promise.all([
        startWorker({ name: 'dash-results', queues: ['celery'], env }),
        startWorker({ name: 'dash-results-slow', queues: ['dash-results-slow'], env }),
      ])),
    );
    leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    standby = fleet.spawn({ config: file, label: 'standby', args: ['--http', '127.0.0.1:0'] });
    await standby.waitForEvent(EVENTS.standby, 15_000);
    bases.push(`http://127.0.0.1:${await httpPortOf(leader)}`, `http://127.0.0.1:${await httpPortOf(standby)}`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    await redis?.stop();
    dir.remove();
  });

  const history = async (entry: string, config = file): Promise<RunJson[]> => {
    const run = await runBeatCli(['history', entry, '--config', config, '--json']);
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout) as RunJson[];
  };

  async function open(base: string, hash = ''): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${base}/${hash}`);
    return page;
  }

  it('tells a failing entry from a succeeding one in the list, and its failing filter keeps only the failing one', async () => {
    await waitUntil(
      'a finished run of each entry',
      async () =>
        (await history('billing-sync')).some((r) => r.state === 'FAILURE') &&
        (await history('healthy')).some((r) => r.state === 'SUCCESS') &&
        (await history('give-up')).filter((r) => r.state === 'FAILURE').length >= 2
          ? true
          : undefined,
      30_000,
      () => `${leader.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
    );
    for (const base of bases) {
      const page = await open(base);
      const bad = page.locator('tr[data-entry="billing-sync"] td[data-label="Result"] .badge');
      const good = page.locator('tr[data-entry="healthy"] td[data-label="Result"] .badge');
      await expect.poll(() => bad.getAttribute('data-state'), { timeout: 15_000 }).toBe('FAILURE');
      await expect.poll(() => good.getAttribute('data-state'), { timeout: 15_000 }).toBe('SUCCESS');
      // The exception's first line on hover, as the worker raised it.
      expect(await bad.getAttribute('title')).toBe('ValueError: boom: line one');
      expect(await page.locator('tr[data-entry="billing-sync"] td[data-label="Success"]').textContent()).toMatch(
        /^0 % of \d+; failing since /,
      );
      expect(await page.locator('tr[data-entry="healthy"] td[data-label="Success"]').textContent()).toMatch(/^100 % of \d+$/);
      if (base === bases[0]) await page.screenshot({ path: join(DOCS, 'dashboard-results.png') });
      await page.check('input[name="failing"]');
      await expect
        .poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry'))))
        .toEqual(['billing-sync', 'give-up']);
      await page.close();
    }
  }, 90_000);

  it('marks an entry whose queue no worker consumes in a colour of its own, not the blue of a run in flight: its badge and the past-day cell of its pending run', async () => {
    await leader.waitForEvent(EVENTS.queueUnconsumed, 15_000);
    // A run of it now (its schedule's first comes after a minute): published, PENDING on the unread queue.
    const triggered = await runBeatCli(['trigger', 'misrouted', '--config', file]);
    expect(triggered.code, triggered.stderr).toBe(0);
    await waitUntil('the triggered run in the history', async () => ((await history('misrouted')).length > 0 ? true : undefined), 15_000);
    for (const base of bases) {
      const page = await open(base);
      const badge = page.locator('tr[data-entry="misrouted"] .badge.unconsumed');
      await expect.poll(() => badge.getAttribute('title'), { timeout: 15_000 }).toMatch(/^no worker consumes queue dash-nobody/);
      expect(await page.locator('tr[data-entry="healthy"] .badge.unconsumed').count()).toBe(0);
      // Computed in the page (a string: this file is compiled without the DOM's types).
      const colours = await page.evaluate<{ flagged: string; running: string }>(`(() => {
        const flagged = document.querySelector('tr[data-entry="misrouted"] .badge.unconsumed');
        const running = document.createElement('span');
        running.className = 'badge run run-pending';
        document.body.append(running);
        return { flagged: flagged === null ? '' : getComputedStyle(flagged).backgroundColor, running: getComputedStyle(running).color };
      })()`);
      expect(colours.flagged).toMatch(/^rgb/);
      expect(colours.flagged).not.toBe(colours.running);
      // The past day's strip: the pending run's cell is unconsumed, in the badge's colour, not the running cells'.
      const cell = page.locator('tr[data-entry="misrouted"] .strip .cell[data-kind="unconsumed"]');
      await expect.poll(() => cell.count(), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await page.locator('tr[data-entry="misrouted"] .strip .cell[data-kind="running"]').count()).toBe(0);
      expect(await cell.first().getAttribute('title')).toMatch(/\d+ unconsumed/);
      const cells = await page.evaluate<{ unconsumed: string; running: string }>(`(() => {
        const cell = document.querySelector('tr[data-entry="misrouted"] .strip .cell[data-kind="unconsumed"]');
        const running = document.createElement('span');
        running.className = 'cell k-running';
        document.body.append(running);
        return { unconsumed: cell === null ? '' : getComputedStyle(cell).backgroundColor, running: getComputedStyle(running).backgroundColor };
      })()`);
      expect(cells.unconsumed).toBe(colours.flagged);
      expect(cells.unconsumed).not.toBe(cells.running);
      await page.close();
    }
  }, 60_000);

  it("shows each concurrency group's runs in flight, waiting and limit above the list, as beat status --json counts them", async () => {
    interface GroupJson {
      readonly group: string;
      readonly running: number;
      readonly waiting: number;
      readonly limit: number;
      readonly entries: number;
    }
    const status = await waitUntil(
      "the group's run in flight and a run waiting",
      async () => {
        const run = await runBeatCli(['status', '--json', '--config', file]);
        const group = (JSON.parse(run.stdout) as { groups?: GroupJson[] }).groups?.find((g) => g.group === 'night');
        return group !== undefined && group.running === 1 && group.waiting >= 1 ? group : undefined;
      },
      20_000,
    );
    for (const base of bases) {
      const page = await open(base);
      // More wait every 2 s: the line is read after beat status, so it shows as many or more.
      await expect
        .poll(() => page.locator('ul.groups li').allTextContents(), { timeout: 15_000 })
        .toEqual([expect.stringMatching(/^group night: 1 running, \d+ waiting, limit 1 \(2 entries\)$/)]);
      const shown = Number(/(\d+) waiting/.exec((await page.locator('ul.groups li').textContent()) ?? '')?.[1]);
      expect(shown).toBeGreaterThanOrEqual(status.waiting);
      const overview = (await (await fetch(`${base}/ui/api/overview`)).json()) as { groups: GroupJson[] };
      expect(overview.groups).toEqual([{ ...status, waiting: expect.any(Number) as number }]);
      await page.close();
    }
  }, 60_000);

  it("shows pauseOnFailure's pause, its note and the failed runs in a row, as beat status says them, on the leader's page and the standby's", async () => {
    const status = await waitUntil(
      'give-up paused by pauseOnFailure',
      async () => {
        const run = await runBeatCli(['status', '--config', file, '--json']);
        const entry = (JSON.parse(run.stdout) as { entries: StatusJson[] }).entries.find((e) => e.name === 'give-up');
        return entry?.paused === true && entry.pauseNote !== null ? entry : undefined;
      },
      20_000,
    );
    expect(status.pauseNote!.by).toBe('pauseOnFailure');
    // Its task always fails: once every kept run is final, the failures in a row are all it kept.
    const kept = await waitUntil(
      'every kept run of give-up final',
      async () => {
        const all = await history('give-up');
        return all.every((r) => FINAL.has(r.state)) ? all : undefined;
      },
      20_000,
    );
    const failures = kept.filter((r) => r.state === 'FAILURE').length;
    expect(failures).toBe(kept.length);
    for (const base of bases) {
      const page = await open(base, '#/entry/give-up');
      const paused = page.locator('dd[data-fact="Paused"]');
      await paused.waitFor({ timeout: 15_000 });
      expect(await paused.textContent()).toBe(`by pauseOnFailure at ${status.pauseNote!.at}: ${status.pauseNote!.note}`);
      // A run already published when the pause came may fail too: the streak counts every failure in a row.
      expect(await page.locator('dd.streak').textContent()).toBe(`${failures} failed runs in a row; pauseOnFailure: paused after 2`);
      // The list says who paused it, next to its state.
      await page.goto(`${base}/#/`);
      await expect
        .poll(() => page.locator('tr[data-entry="give-up"] td[data-label="State"]').textContent(), { timeout: 15_000 })
        .toMatch(/^paused pauseOnFailure: /);
      await page.close();
    }
  }, 60_000);

  it("shows an entry's history as a table equal to beat history, on the leader's page and the standby's", async () => {
    // Paused, its runs stop coming: once every kept run is final, the history holds still to compare.
    const paused = await runBeatCli(['pause', 'billing-sync', '--config', file, '--note', 'billing API down, INC-42']);
    expect(paused.code).toBe(0);
    // The oracle of who paused it and why: beat audit, which reads the same stream.
    const audited = await runBeatCli(['audit', 'billing-sync', '--config', file, '--json']);
    const events = JSON.parse(audited.stdout) as AuditJson[];
    expect(events[0]).toMatchObject({
      entry: 'billing-sync',
      action: 'pause',
      note: 'billing API down, INC-42',
      who: `${userInfo().username}@${hostname()}`,
    });
    // And unchanged for longer than a run waits to be written (a run published just before the
    // pause joins the history a moment later).
    let seen: { text: string; atMs: number } | undefined;
    const runs = await waitUntil(
      'every kept run of billing-sync final, the history unchanged',
      async () => {
        const all = await history('billing-sync');
        const text = JSON.stringify(all);
        if (seen?.text !== text) seen = { text, atMs: Date.now() };
        const still = Date.now() - seen.atMs > OUTCOME_BURST_QUIET_MS + 500;
        return still && all.length >= 2 && all.every((r) => FINAL.has(r.state)) ? all : undefined;
      },
      30_000,
    );
    for (const base of bases) {
      const page = await open(base, '#/entry/billing-sync');
      await page.locator('table.runs tbody tr').first().waitFor({ timeout: 15_000 });
      // Ten a page: the table shows the newest ten; the pager the rest.
      const rows = async () =>
        page.locator('table.runs tbody tr').evaluateAll((trs) =>
          trs.map((tr) => ({
            taskId: tr.getAttribute('data-task-id'),
            state: tr.querySelector('td[data-label="State"]')?.textContent,
            exception: tr.querySelector('td[data-label="Exception"]')?.textContent,
            slot: tr.querySelector('td[data-label="Slot"]')?.textContent,
            finished: tr.querySelector('td[data-label="Finished"]')?.textContent,
          })),
        );
      // Before paging: the top of the page (paused with its note, the chart, the newest runs).
      if (base === bases[0]) await page.screenshot({ path: join(DOCS, 'dashboard-entry-failures.png') });
      const shown = [...(await rows())];
      const older = page.getByRole('button', { name: 'Older →' });
      while ((await older.count()) > 0 && (await older.isEnabled())) {
        await older.click();
        shown.push(...(await rows()));
      }
      const clock = (iso: string | null) => (iso === null ? '—' : iso.slice(0, 19).replace('T', ' '));
      expect(shown).toEqual(
        runs.map((r) => ({
          taskId: r.taskId,
          state: r.state,
          exception: r.exception ?? '',
          slot: clock(r.slot),
          finished: clock(r.finishedAt),
        })),
      );
      const lastFailure = runs.find((r) => r.state === 'FAILURE');
      expect(await page.locator('dd.last-failure').textContent()).toBe(lastFailure?.finishedAt);
      expect(await page.locator('dd.last-success').textContent()).toMatch(/none kept/);
      const pausedText = (await page.locator('dd[data-fact="Paused"]').textContent()) ?? '';
      expect([pausedText.startsWith(`by ${events[0]!.who} at `), pausedText.endsWith(': billing API down, INC-42')]).toEqual([true, true]);
      // The Audit tab, filtered by the entry: the same events as beat audit, newest first.
      await page.goto(`${base}/#/audit/billing-sync`);
      // Polled: the rows of the entry page's own audit section match the selector until the tab replaces it.
      const shownEvents = (): Promise<unknown[]> =>
        page.locator('table.audit tbody tr').evaluateAll((trs) =>
          trs.map((tr) => ({
            id: tr.getAttribute('data-audit-id'),
            entry: tr.getAttribute('data-entry'),
            action: tr.getAttribute('data-action'),
            who: tr.querySelector('td.who')?.textContent,
            note: tr.querySelector('td.note-text')?.textContent,
          })),
        );
      await expect
        .poll(shownEvents, { timeout: 15_000, interval: 200 })
        .toEqual(events.map((e) => ({ id: e.id, entry: e.entry, action: e.action, who: e.who, note: e.note ?? '' })));
      // The whole trail holds it too.
      await page.goto(`${base}/#/audit`);
      const first = page.locator('table.audit tbody tr[data-entry="billing-sync"][data-action="pause"]').first();
      await first.waitFor({ timeout: 15_000 });
      expect(await first.locator('td.note-text').textContent()).toBe('billing API down, INC-42');
      // The command line's change: no grant (it holds every role).
      expect(await first.locator('td.grant').textContent()).toBe('');
      if (base === bases[0]) await page.screenshot({ path: join(DOCS, 'dashboard-audit.png') });
      // Who made it links to their changes alone: the same events as beat audit --who, the filter shown in its box.
      await first.locator('td.who a').click();
      await page.waitForURL(/#\/audit\?who=/, { timeout: 5_000 });
      // The page draws the filtered tab after the address changes: polled, not read at once.
      await expect.poll(() => page.locator('input[name="who"]').inputValue(), { timeout: 15_000, interval: 200 }).toBe(events[0]!.who);
      const byWho = await runBeatCli(['audit', '--who', events[0]!.who, '--limit', '50', '--config', file, '--json']);
      const theirs = JSON.parse(byWho.stdout) as AuditJson[];
      expect(theirs.length).toBeGreaterThan(0);
      await expect
        .poll(shownEvents, { timeout: 15_000, interval: 200 })
        .toEqual(theirs.map((e) => ({ id: e.id, entry: e.entry, action: e.action, who: e.who, note: e.note ?? '' })));
      // Nobody by that name: nothing shown, and the hint says whose changes were looked for.
      await page.goto(`${base}/#/audit?who=nobody-did-this`);
      await expect
        .poll(() => page.locator('.audit-pages .hint').textContent(), { timeout: 15_000 })
        .toBe('No change by nobody-did-this is kept.');
      await page.close();
    }
    await runBeatCli(['resume', 'billing-sync', '--config', file]);
  }, 90_000);

  it("shows a triggered canvas run's parts under its row of the history (path, task, state, result or error), as beat history --json gives them", async () => {
    const triggered = await runBeatCli(['trigger', 'pipeline', '--config', file]);
    expect(triggered.code, triggered.stderr).toBe(0);
    const run = await waitUntil(
      'the triggered chain final',
      async () => (await history('pipeline')).find((r) => r.origin === 'trigger' && FINAL.has(r.state)),
      30_000,
      () => `${leader.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
    );
    // The oracle: beat history --json, whose parts the worker's own results are (outcomes.test.ts).
    expect(run.state).toBe('FAILURE');
    expect(run.exception).toMatch(/^chain\[1\] tsbeat_test\.fail \(\S+\) failed: ValueError: boom: line one$/);
    const parts = run.parts ?? [];
    // The last step: FAILURE once read from the result backend (Celery marks it), PENDING when the
    // failing step's task event ended the run first.
    expect(parts.map((p) => p.state).slice(0, 2)).toEqual(['SUCCESS', 'FAILURE']);
    const counts = new Map<string, number>();
    for (const p of parts) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
    for (const base of bases) {
      const page = await open(base, '#/entry/pipeline');
      const row = page.locator(`tr.run-parts[data-parts-of="${run.taskId}"]`);
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('summary').textContent()).toBe(`3 parts: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`);
      // Folded until asked for.
      expect(await row.locator('table.parts').isVisible()).toBe(false);
      await row.locator('summary').click();
      expect(await row.locator('table.parts').isVisible()).toBe(true);
      const shown = await row.locator('table.parts tbody tr').evaluateAll((trs) =>
        trs.map((tr) => ({
          path: tr.querySelector('td[data-label="Part"] code')?.textContent,
          id: tr.getAttribute('data-part-id'),
          task: tr.querySelector('td[data-label="Task"]')?.textContent,
          state: tr.querySelector('td[data-label="State"] .badge')?.getAttribute('data-state'),
          gave: tr.querySelector('td[data-label="Result or error"]')?.textContent,
        })),
      );
      expect(shown).toEqual(
        parts.map((p) => ({
          path: p.path,
          id: p.id,
          task: p.task,
          state: p.state,
          gave: p.exception ?? (p.result === undefined ? '' : JSON.stringify(p.result)),
        })),
      );
      // What each part gave: the first step's sum is not kept (only a final part's result is); the failing step's error is.
      expect(shown.map((p) => p.gave).slice(0, 2)).toEqual(['', 'ValueError: boom: line one']);
      // The run's own row names the failing step.
      expect(await page.locator(`table.runs tr[data-task-id="${run.taskId}"] td[data-label="Exception"]`).textContent()).toBe(
        run.exception,
      );
      if (base === bases[0]) await page.locator('.history').screenshot({ path: join(DOCS, 'dashboard-canvas-parts.png') });
      await page.close();
    }
  }, 60_000);

  it("shows a retried slot as one row of the history, its state the last attempt's, its attempts under it, as beat history --json gives them", async () => {
    const triggered = await runBeatCli(['trigger', 'flaky', '--config', file]);
    expect(triggered.code, triggered.stderr).toBe(0);
    // The oracle: beat history --json, held to the worker's own attempts in retry-worker.test.ts.
    const slot = await waitUntil(
      "the triggered slot's third attempt SUCCESS",
      async () => (await history('flaky')).find((r) => r.state === 'SUCCESS' && r.attemptCount === 3),
      40_000,
      () => `${leader.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
    );
    expect(slot.attempts.map((a) => [a.attempt, a.state])).toEqual([
      [1, 'FAILURE'],
      [2, 'FAILURE'],
      [3, 'SUCCESS'],
    ]);
    for (const base of bases) {
      const page = await open(base, '#/entry/flaky');
      const row = page.locator(`table.runs > tbody > tr[data-task-id="${slot.taskId}"]`);
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('td[data-label="State"]').textContent()).toBe('SUCCESS attempt 3/3');
      // One row for the slot: its attempts are under it, not rows of their own.
      expect(await page.locator('table.runs > tbody > tr[data-task-id]').count()).toBe(1);
      const attempts = page.locator(`tr.run-attempts[data-attempts-of="${slot.slotTaskId}"] table.attempts tbody tr`);
      const shown = await attempts.evaluateAll((trs) =>
        trs.map((tr) => ({
          taskId: tr.getAttribute('data-task-id'),
          attempt: tr.querySelector('td[data-label="Attempt"]')?.textContent,
          state: tr.querySelector('td[data-label="State"] .badge')?.getAttribute('data-state'),
          exception: tr.querySelector('td[data-label="Exception"]')?.textContent,
        })),
      );
      expect(shown).toEqual(
        slot.attempts.map((a) => ({ taskId: a.taskId, attempt: `#${a.attempt}`, state: a.state, exception: a.exception ?? '' })),
      );
      expect(shown[0]!.exception).toBe('ValueError: not yet');
      await page.close();
    }
  }, 60_000);

  it('colours the past hour: a failed slot, a slot skipped by overlap, and slots missed while the leader was down (catchUp: skip)', async () => {
    // Its own deployment, leader and standby, on a fresh name each attempt: it kills its leader, and
    // a retry must find neither that attempt's processes (the standby that took over still leading,
    // still publishing) nor its lock or histories; its processes go when it ends, failed or not.
    const own = new BeatFleet();
    try {
      const config = deployment(uniqueName('dash-hour'));
      const hourLeader = own.spawn({ config, label: 'hour-leader', args: ['--http', '127.0.0.1:0'] });
      await hourLeader.waitForEvent(EVENTS.lockAcquired, 15_000);
      const hourStandby = own.spawn({ config, label: 'hour-standby', args: ['--http', '127.0.0.1:0'] });
      await hourStandby.waitForEvent(EVENTS.standby, 15_000);
      const base = `http://127.0.0.1:${await httpPortOf(hourStandby)}`;
      // The oracles: a FAILURE in beat history; the leader's own beat.overlap.skip line (its slot).
      const skip = await hourLeader.waitForEvent(EVENTS.overlapSkip, 20_000);
      const skippedSlot = Date.parse(String(skip['slot']));
      const failed = await waitUntil(
        'a failed run of billing-sync',
        async () => (await history('billing-sync', config)).find((r) => r.state === 'FAILURE'),
        20_000,
      );
      expect(failed).toBeDefined();
      // Killed: nobody leads until its lock expires (lock.ttl 2 s); the standby then takes over, and
      // late-skip's slots of that gap are missed.
      const before = await waitUntil(
        'a finished run of late-skip',
        async () => (await history('late-skip', config)).find((r) => r.state === 'SUCCESS'),
        15_000,
      );
      hourLeader.signal('SIGKILL');
      await hourStandby.waitForEvent(EVENTS.lockAcquired, 15_000);
      // The first run after the gap, and the slots between: every second (1 s interval) that did not run.
      const gap = await waitUntil(
        'late-skip to run after the takeover, past a gap',
        async () => {
          const runs = (await history('late-skip', config)).map((r) => Date.parse(r.slot)).sort((a, b) => a - b);
          for (let i = 1; i < runs.length; i += 1)
            if (runs[i]! - runs[i - 1]! > 1500 && runs[i - 1]! >= Date.parse(before.slot)) return [runs[i - 1]!, runs[i]!] as const;
          return undefined;
        },
        60_000,
        () => hourStandby.tail(),
      );
      // The slot just before the first run after the gap: due while no one led (a run published in the
      // last moments before a SIGKILL may be missing from the history, so the gap's first slot is no oracle).
      const missedSlot = gap[1] - 1000;
      expect(missedSlot).toBeGreaterThan(gap[0]);
      // The new leader said late-skip's slots were missed: all of them skipped (beat.skip), or the
      // latest fired and the earlier ones skipped (beat.catch_up), as the takeover fell on a slot or not.
      await hourStandby.waitForLog(
        "late-skip's missed slots",
        (l) => (l.event === EVENTS.skip || l.event === EVENTS.catchUp) && l['entry'] === 'late-skip' && Number(l['missed']) > 0,
        10_000,
      );
      const page = await open(base, '#/entry/late-skip');
      // What the API says of the other entries' cells (the page draws the same cells, see below).
      const cellKind = async (entry: string, span: 'day' | 'hour', slotMs: number): Promise<string | null> => {
        const p = new URLSearchParams({ span, name: entry });
        const reply = await fetch(`${base}/ui/api/strips?${p.toString()}`);
        const s = (await reply.json()) as { startMs: number; bucketMs: number; strips: Record<string, ({ kind: string } | null)[]> };
        return s.strips[entry]?.[Math.floor((slotMs - s.startMs) / s.bucketMs)]?.kind ?? null;
      };
      // The page's own strips: the hour strip's cell holding the missed slot is coloured missed.
      const minute = (ms: number) => String(Math.floor(ms / 60_000) * 60_000);
      const missedCell = page.locator(`.strip[aria-label="late-skip: the last hour"] .cell[data-start="${minute(missedSlot)}"]`);
      await expect.poll(() => missedCell.getAttribute('data-kind'), { timeout: 15_000 }).toBe('missed');
      expect(await missedCell.getAttribute('title')).toMatch(/\d+ missed/);
      expect(await cellKind('slow-skip', 'hour', skippedSlot)).toBe('skipped');
      expect(await cellKind('billing-sync', 'hour', Date.parse(failed.slot))).toBe('failed');
      expect(await cellKind('billing-sync', 'day', Date.parse(failed.slot))).toBe('failed');
      await page.screenshot({ path: join(DOCS, 'dashboard-day-strip.png') });
      // The list's strips and the timeline's past show the same cells.
      await page.goto(`${base}/#/timeline`);
      const timelineCell = page.locator(`.past-grid .strip[data-entry="slow-skip"] .cell[data-start="${minute(skippedSlot)}"]`);
      await expect.poll(() => timelineCell.getAttribute('data-kind'), { timeout: 15_000 }).toBe('skipped');
      await page.screenshot({ path: join(DOCS, 'dashboard-timeline-past.png') });
      await page.close();
    } finally {
      await own.killAll();
    }
  }, 120_000);
});
