/**
 * What the dashboard shows of runs that happened, in Debian's Chromium (playwright-core) against a
 * real `beat run` leader and standby, a real Celery worker and a Redis result backend (a private
 * redis-server: broker and state on DB 0, results on DB 1): a failing and a succeeding entry told
 * apart in the list (and by its failing filter), an entry's history table equal to `beat history
 * --json`, and a standby's page showing the same as the leader's. Oracle: `beat history`, which
 * reads the history in Redis, and the states the worker's tasks are written to end in.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { httpPortOf, killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const CHROMIUM = '/usr/bin/chromium';
const DOCS = join(import.meta.dirname, '../../docs');
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
}

const FINAL = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'unknown']);

describe.skipIf(!ready)('the dashboard shows what happened (real worker, result backend, leader and standby)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let worker: CeleryProcess;
  let leader: BeatProcess;
  let standby: BeatProcess;
  let browser: Browser;
  let file: string;
  const bases: string[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    const name = uniqueName('dash-results');
    file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        'billing-sync': { task: 'tsbeat_test.fail', schedule: 1 },
        healthy: { task: 'tsbeat_test.ok', schedule: 1 },
      },
    });
    const env = { broker: redis.url(0), backend: redis.url(1) };
    [worker] = await Promise.all([startWorker({ name: 'dash-results', queues: ['celery'], env })]);
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
    await stopAll([worker]);
    await redis?.stop();
    dir.remove();
  });

  const history = async (entry: string): Promise<RunJson[]> => {
    const run = await runBeatCli(['history', entry, '--config', file, '--json']);
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
        (await history('billing-sync')).some((r) => r.state === 'FAILURE') && (await history('healthy')).some((r) => r.state === 'SUCCESS')
          ? true
          : undefined,
      30_000,
      () => `${leader.tail()}\n${worker.output().slice(-2000)}`,
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
        .toEqual(['billing-sync']);
      await page.close();
    }
  }, 90_000);

  it("shows an entry's history as a table equal to beat history, on the leader's page and the standby's", async () => {
    // Paused, its runs stop coming: once every kept run is final, the history holds still to compare.
    const paused = await runBeatCli(['pause', 'billing-sync', '--config', file]);
    expect(paused.code).toBe(0);
    const runs = await waitUntil(
      'every kept run of billing-sync final',
      async () => {
        const all = await history('billing-sync');
        return all.length >= 2 && all.every((r) => FINAL.has(r.state)) ? all : undefined;
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
      if (base === bases[0]) await page.screenshot({ path: join(DOCS, 'dashboard-entry-failures.png') });
      await page.close();
    }
    await runBeatCli(['resume', 'billing-sync', '--config', file]);
  }, 90_000);
});
