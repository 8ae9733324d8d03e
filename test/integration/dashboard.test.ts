/**
 * The dashboard of `beat run --http`, in a real headless Chromium (Debian's, driven by
 * playwright-core) against a real `beat run` on a private redis-server: what the page lists, that a
 * pause clicked in the page stops the entry's runs in Redis, that a trigger publishes exactly one
 * run, that writes without a login (or without the CSRF token, or from another Origin) are refused,
 * that the deployment page lists the leader and a standby (a second beat run),
 * that names and args full of HTML show as text, and that the page holds at 360 px. Screenshots of
 * the main pages go to docs/images/ (shown in docs/dashboard.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, httpRequest, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token-0123456789';
const TASK = 'tsbeat_test.record';
const XSS_NAME = '<script>alert("name")</script>';
const XSS_ARG = '"><img src=x onerror=alert("arg")>';
const DOCS = join(import.meta.dirname, '../../docs/images');

/** Messages in a queue of the broker (a kombu list) published for `entry`, read from their headers. */
async function publishedFor(redis: Redis, queue: string, entry: string): Promise<number> {
  const items = await redis.lrange(queue, 0, -1);
  return items.filter((text) => (JSON.parse(text) as { headers?: { beat_entry?: string } }).headers?.beat_entry === entry).length;
}

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in headless Chromium (real beat run, private Redis)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let beat: BeatProcess;
  let standby: BeatProcess;
  let browser: Browser;
  let base: string;
  let name: string;
  const dialogs: string[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    name = uniqueName('dashboard');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        tick: { task: TASK, schedule: 1 },
        'daily-report': { task: 'reports.daily', schedule: { crontab: { minute: '30', hour: '4' } }, options: { queue: 'reports' } },
        'berlin-morning': { task: TASK, schedule: { crontab: { minute: '0', hour: '7' } }, timezone: 'Europe/Berlin' },
        [XSS_NAME]: { task: TASK, schedule: 3600, args: [XSS_ARG], kwargs: { note: '<b>bold</b>' } },
        off: { task: TASK, schedule: 60, enabled: false },
      },
    });
    beat = fleet.spawn({ config: file, label: 'dashboard', args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    // A second beat run of the same deployment: the deployment page lists it as a standby.
    standby = fleet.spawn({ config: file, label: 'dashboard-standby' });
    await standby.waitForEvent(EVENTS.standby, 15_000);
    base = `http://127.0.0.1:${await httpPortOf(beat)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  async function open(width = 1280, height = 900): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${base}/`);
    await page.locator('tr[data-entry="tick"]').waitFor({ timeout: 15_000 });
    return page;
  }

  /** The words (and dates) of the entry table's cells that wrap inside themselves (across two lines). In the page: the tests' types have no DOM. */
  function brokenWords(page: Page): Promise<string[]> {
    return page.evaluate<string[]>(`(() => {
      const broken = [];
      for (const cell of document.querySelectorAll('tbody td')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
          // A word: letters and digits (a break at a separator, '.', '-', '_', '/', is no break inside one), and a date whole.
          for (const word of (node.textContent ?? '').matchAll(/\\d{4}-\\d\\d-\\d\\d|[\\p{L}\\p{N}]+/gu)) {
            const range = document.createRange();
            range.setStart(node, word.index);
            range.setEnd(node, word.index + word[0].length);
            const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            if (lines.size > 1) broken.push(word[0]);
          }
        }
      }
      return broken;
    })()`);
  }

  /** Every row's past-day strip and its empty buckets are drawn at least 12 px tall, in a colour of their own. */
  async function expectFullStrips(page: Page): Promise<void> {
    await page.locator('tbody tr .strip .cell').first().waitFor({ timeout: 10_000 });
    const cells = await page.evaluate<
      { height: number; background: string }[]
    >(`[...document.querySelectorAll('tbody tr .strip .cell:not([data-kind])')]
      .slice(0, 50)
      .map((c) => ({ height: c.getBoundingClientRect().height, background: getComputedStyle(c).backgroundColor }))`);
    expect(cells.length).toBeGreaterThan(0);
    for (const cell of cells) {
      expect(cell.height).toBeGreaterThanOrEqual(12);
      expect(cell.background).not.toMatch(/^rgba\(0, 0, 0, 0\)$|^transparent$/);
      expect(cell.background).not.toBe('rgb(246, 248, 250)'); // the page's panel colour: invisible on white
    }
  }

  async function login(page: Page): Promise<void> {
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
  }

  it('lists every entry with its source, task, schedule in words, zone and state, with a strict CSP and no inline script', async () => {
    const reply = await httpRequest(Number(new URL(base).port), '/');
    expect(reply.status).toBe(200);
    const csp = reply.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(reply.body).not.toMatch(/<script>(?!<\/script>)/);
    const page = await open();
    const names = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry')));
    expect(names.sort()).toEqual([XSS_NAME, 'berlin-morning', 'daily-report', 'off', 'tick'].sort());
    const daily = page.locator('tr[data-entry="daily-report"]');
    await expect.poll(() => daily.locator('td[data-label="Queue"]').textContent()).toBe('reports');
    expect(await daily.locator('td[data-label="Source"]').textContent()).toBe('file');
    expect(await daily.locator('td[data-label="Schedule"]').textContent()).toMatch(/04:30|4:30/);
    expect(await page.locator('tr[data-entry="berlin-morning"] td[data-label="Zone"]').textContent()).toBe('Europe/Berlin');
    expect(await page.locator('tr[data-entry="off"] .badge').textContent()).toBe('disabled');
    expect(await page.locator('tr[data-entry="tick"] td[data-label="Next run"]').textContent()).toMatch(
      /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \((in \d+ s|now)\)/,
    );
    // Search narrows the list through the paged API.
    await page.fill('input[name="q"]', 'reports.daily');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.fill('input[name="q"]', '');
    await page.selectOption('select[name="state"]', 'disabled');
    await expect.poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry')))).toEqual(['off']);
    await page.selectOption('select[name="state"]', '');
    // The queue filter is trimmed; a sortable header sorts, then sorts the other way.
    await page.fill('input[name="queue"]', ' reports ');
    await expect
      .poll(() => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry'))))
      .toEqual(['daily-report']);
    await page.fill('input[name="queue"]', '');
    await page.locator('tr[data-entry="tick"]').waitFor();
    const order = () => page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry')));
    await page.click('th button.sort:has-text("Name")');
    await expect.poll(async () => page.locator('th[aria-sort="descending"]').count()).toBe(1);
    await expect.poll(order).toEqual([...(await order())].sort().reverse());
    await page.click('th button.sort:has-text("Name")');
    await expect.poll(async () => page.locator('th[aria-sort="ascending"]').count()).toBe(1);
    // The layout at 1,280 px and at 1,400 px: no word of a cell wraps inside itself (names, tasks and
    // zones wrap at their separators only), and the past day's strip is drawn at its full height
    // with its empty buckets visible.
    expect(await brokenWords(page), JSON.stringify(await brokenWords(page))).toEqual([]);
    await expectFullStrips(page);
    const wide = await open(1400, 900);
    expect(await brokenWords(wide)).toEqual([]);
    await wide.close();
    await page.screenshot({ path: join(DOCS, 'dashboard-entries.png') });
    await page.close();
  }, 60_000);

  it('lists the entries of the runtime store with their source, and an unreadable one as invalid with its problem', async () => {
    const keys = schedulerKeys('tsbeat', name);
    await new RedisEntryStore(redis, keys).write([{ op: 'put', name: 'store-hourly', entry: { task: 'store.task', schedule: 3600 } }], {
      nowMs: Date.now(),
    });
    // A record written by hand, as the store's script would version it: the catalog finds it and cannot read it.
    // In one MULTI, as the script writes: a reader that sees the new version sees the change too.
    const version = Number((await redis.get(keys.entriesVersion)) ?? 0) + 1;
    await redis
      .multi()
      .hset(keys.entries, 'store-broken', 'not a record')
      .zadd(keys.entryChanges, version, 'store-broken')
      .set(keys.entriesVersion, String(version))
      .exec();
    const page = await open();
    const row = page.locator('tr[data-entry="store-hourly"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('td[data-label="Source"]').textContent()).toBe('store');
    expect(await row.locator('td[data-label="Schedule"]').textContent()).toBe('every 1h');
    const broken = page.locator('tr[data-entry="store-broken"]');
    await broken.waitFor({ timeout: 15_000 });
    expect(await broken.locator('.badge').textContent()).toBe('invalid');
    expect(await broken.locator('td[data-label="Schedule"]').textContent()).toMatch(/not a tsbeat entry record/);
    await new RedisEntryStore(redis, keys).write([{ op: 'delete', name: 'store-hourly' }], { nowMs: Date.now() });
    await redis.hdel(keys.entries, 'store-broken');
    await page.close();
  }, 60_000);

  it('shows an entry named and called with HTML as text: no element made of it, no dialog', async () => {
    const page = await open();
    const cell = page.locator('tbody a.entry-link', { hasText: XSS_NAME });
    expect(await cell.textContent()).toBe(XSS_NAME);
    await cell.click();
    await page.locator('h1.entry-name').waitFor();
    expect(await page.locator('h1.entry-name').textContent()).toBe(XSS_NAME);
    // The args appear in the definition and in the message, as JSON text.
    await expect.poll(() => page.locator('pre.json').first().textContent()).toContain('onerror=alert');
    expect(await page.locator('main img, main script, main b').count()).toBe(0);
    await sleep(500);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 60_000);

  it('refuses writes without a login, without the CSRF token, and from another Origin; with none the page offers no actions', async () => {
    const port = Number(new URL(base).port);
    const keys = schedulerKeys('tsbeat', name);
    const bare = await fetch(`${base}/ui/api/entries/tick/pause`, { method: 'POST' });
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ code: 'login_required' });
    // The page's writes are /api's: without a token or a session, refused as the API refuses them.
    const bareApi = await fetch(`${base}/api/entries/tick/pause`, { method: 'POST' });
    expect(bareApi.status).toBe(401);
    expect(await bareApi.json()).toMatchObject({ code: 'API_UNAUTHORIZED' });
    const wrong = await fetch(`${base}/ui/api/login`, { method: 'POST', body: JSON.stringify({ token: 'not-it' }) });
    expect(wrong.status).toBe(401);
    const good = await fetch(`${base}/ui/api/login`, { method: 'POST', body: JSON.stringify({ token: TOKEN }) });
    expect(good.status).toBe(200);
    const cookie = (good.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(good.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    const { csrf } = (await good.json()) as { csrf: string };
    const noCsrf = await fetch(`${base}/ui/api/entries/tick/pause`, { method: 'POST', headers: { cookie } });
    expect(noCsrf.status).toBe(403);
    const otherOrigin = await fetch(`${base}/ui/api/entries/tick/pause`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' },
    });
    expect(otherOrigin.status).toBe(403);
    // The same refusals on /api, where the page's writes go now.
    const noCsrfApi = await fetch(`${base}/api/entries/tick/pause`, { method: 'POST', headers: { cookie } });
    expect(noCsrfApi.status).toBe(403);
    expect(await noCsrfApi.json()).toMatchObject({ code: 'API_FORBIDDEN', error: expect.stringMatching(/x-csrf-token/) });
    const wrongCsrf = await fetch(`${base}/api/stop`, { method: 'PUT', headers: { cookie, 'x-csrf-token': `${csrf}x` } });
    expect(wrongCsrf.status).toBe(403);
    const otherOriginApi = await fetch(`${base}/api/entries/tick/pause`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' },
    });
    expect(otherOriginApi.status).toBe(403);
    expect(await otherOriginApi.json()).toMatchObject({ code: 'API_FORBIDDEN', error: expect.stringMatching(/Origin/) });
    // The dashboard's own API only reads now: a write there is refused, whatever it carries.
    const oldRoute = await fetch(`${base}/ui/api/entries/tick/pause`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(oldRoute.status).toBe(405);
    expect(await redis.sismember(keys.paused, 'tick')).toBe(0);
    const page = await open();
    await page.locator('a.entry-link', { hasText: 'tick' }).first().click();
    await page.locator('h1.entry-name').waitFor();
    expect(await page.locator('button.act').count()).toBe(0);
    expect(await page.locator('p.hint').first().textContent()).toMatch(/Log in/);
    expect((await httpRequest(port, '/healthz')).status).toBe(200);
    await page.close();
  }, 60_000);

  it('pauses an entry from the page: its runs stop in Redis; resuming starts them again', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const runCount = async (): Promise<number> => {
      const text = await redis.hget(keys.state, 'tick');
      return text === null ? 0 : (JSON.parse(text) as { n: number }).n;
    };
    await waitUntil('tick to run', async () => ((await runCount()) >= 2 ? true : undefined), 10_000);
    const page = await open();
    await login(page);
    await page.locator('a.entry-link', { hasText: 'tick' }).first().click();
    // The note goes with the pause: kept while it lasts, and in the audit trail with the session's name.
    await page.fill('input[name="note"]', 'deploy window, INC-7');
    await page.locator('button[data-action="pause"]').click();
    await page.locator('button[data-action="resume"]').waitFor({ timeout: 10_000 });
    expect(await redis.sismember(keys.paused, 'tick')).toBe(1);
    expect(JSON.parse((await redis.hget(keys.pauseNotes, 'tick')) ?? '{}')).toMatchObject({
      note: 'deploy window, INC-7',
      by: 'dashboard:api',
    });
    await expect
      .poll(() => page.locator('dd[data-fact="Paused"]').textContent(), { timeout: 10_000 })
      .toMatch(/^by dashboard:api at \S+: deploy window, INC-7$/);
    const [, fields] = (await redis.xrevrange(keys.audit, '+', '-', 'COUNT', 1))[0] ?? ['', []];
    expect(fields).toEqual(
      expect.arrayContaining(['who', 'dashboard:api', 'action', 'pause', 'entry', 'tick', 'note', 'deploy window, INC-7']),
    );
    // The entry page's own audit section shows it first.
    const own = page.locator('table.audit tbody tr').first();
    await own.waitFor({ timeout: 10_000 });
    expect([
      await own.getAttribute('data-action'),
      await own.locator('td.who').textContent(),
      await own.locator('td.note-text').textContent(),
    ]).toEqual(['pause', 'dashboard:api', 'deploy window, INC-7']);
    await sleep(600);
    const before = await runCount();
    await sleep(2500);
    expect(await runCount()).toBe(before);
    await page.locator('button[data-action="resume"]').click();
    await page.locator('button[data-action="pause"]').waitFor({ timeout: 10_000 });
    await waitUntil('tick to run again', async () => ((await runCount()) > before ? true : undefined), 10_000);
    await page.close();
  }, 60_000);

  it('triggers an entry from the page: exactly one run is published', async () => {
    expect(await publishedFor(redis, 'reports', 'daily-report')).toBe(0);
    const page = await open();
    await login(page);
    await page.locator('a.entry-link', { hasText: 'daily-report' }).click();
    await page.locator('button[data-action="trigger"]').click();
    await page.locator('.notice.ok', { hasText: 'Triggered' }).waitFor({ timeout: 10_000 });
    await sleep(1000);
    // The message went to the entry's own queue (reports), once.
    expect(await publishedFor(redis, 'reports', 'daily-report')).toBe(1);
    await page.close();
  }, 60_000);

  it('creates, edits and deletes a runtime entry from the page: the store changes, the next fires follow, a bad edit names its problem', async () => {
    const store = new RedisEntryStore(redis, schedulerKeys('tsbeat', name));
    const page = await open();
    await login(page);
    // Create: the editor's sample, renamed and given a cron schedule.
    await page.getByRole('link', { name: 'New runtime entry' }).click();
    await page.fill('input[name="name"]', 'page-made');
    await page.fill('textarea[name="definition"]', JSON.stringify({ task: 'made.by.page', schedule: { cron: '0 6 * * *' } }));
    await page.getByRole('button', { name: 'Save' }).click();
    await waitUntil('the entry in the store', async () => ((await store.get('page-made')) === undefined ? undefined : true), 20_000);
    expect((await store.get('page-made'))?.entry).toEqual({ task: 'made.by.page', schedule: { cron: '0 6 * * *' } });
    // The editor went to the entry's page on saving; a load of it now (the entry is in the store)
    // shows it once the scheduler's catalog has it (the page asks again for a few seconds).
    await page.goto(`${base}/#/entry/page-made`);
    await page.reload();
    const firstFire = page.locator('ul.fires-compact time').first();
    await firstFire.waitFor({ timeout: 20_000 });
    expect(await firstFire.getAttribute('datetime')).toMatch(/T06:00:00/);
    expect(await firstFire.textContent()).toBe('06:00');
    // The definition as written is the store's record.
    expect(await page.locator('p.written-source').textContent()).toBe('As written in the runtime store (beat entries, PUT /api/entries)');
    expect(JSON.parse((await page.locator('p.written-source + pre.json').textContent()) ?? '')).toEqual({
      task: 'made.by.page',
      schedule: { cron: '0 6 * * *' },
    });

    // Edit: the editor starts from the entry as written; a bad schedule is refused with its path.
    await page.getByRole('button', { name: 'Edit' }).click();
    const written = JSON.parse(await page.inputValue('textarea[name="definition"]')) as unknown;
    expect(written).toEqual({ task: 'made.by.page', schedule: { cron: '0 6 * * *' } });
    await page.fill('textarea[name="definition"]', JSON.stringify({ task: 'made.by.page', schedule: { cron: '0 25 * * *' } }));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('pre.problems', { hasText: 'schedule.cron' }).waitFor({ timeout: 20_000 });
    expect((await store.get('page-made'))?.entry).toEqual({ task: 'made.by.page', schedule: { cron: '0 6 * * *' } });
    await page.fill('textarea[name="definition"]', JSON.stringify({ task: 'made.by.page', schedule: { cron: '15 9 * * *' } }));
    await page.getByRole('button', { name: 'Save' }).click();
    await waitUntil(
      'the edit in the store',
      async () => (JSON.stringify((await store.get('page-made'))?.entry).includes('15 9') ? true : undefined),
      20_000,
    );
    // The page shows what the replica's catalog holds (rows rebuilt at most every 2 s): look again until it follows.
    await waitUntil(
      'the next fires to follow the edit',
      async () => {
        await page.reload();
        await firstFire.waitFor({ timeout: 20_000 });
        return (await firstFire.textContent()) === '09:15' ? true : undefined;
      },
      20_000,
    );

    // Delete.
    page.removeAllListeners('dialog');
    page.on('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    await waitUntil('the entry gone from the store', async () => ((await store.get('page-made')) === undefined ? true : undefined), 20_000);
    await page.close();
  }, 120_000);

  it('shows the timeline and the deployment (the leader and a standby, with their heartbeats), and holds at 360 px wide', async () => {
    const page = await open();
    await page.goto(`${base}/#/timeline`);
    await page.locator('.bars .bar').first().waitFor();
    expect(await page.locator('.bars .bar').count()).toBe(60);
    // tick runs every second: 60 in each minute but the first (partly past) and the last (perhaps cut).
    const timeline = (await (await fetch(`${base}/ui/api/timeline`)).json()) as {
      capped: number;
      counts: number[];
      peakSecond: { atMs: number; runs: number };
    };
    expect(timeline.capped).toBe(0);
    expect(timeline.counts.slice(1, 59).filter((n: number) => n < 60)).toEqual([]);
    // The page says the runs per minute (the bars' labels) and the busiest second, as the server counted them.
    const busiest = Math.max(...timeline.counts);
    expect(await page.locator('.bars').getAttribute('aria-label')).toMatch(new RegExp(`at most ${busiest} in one minute$`));
    // The page fetched its own timeline a moment before: the same entries, its window a second or so earlier.
    expect(timeline.peakSecond.runs).toBeGreaterThanOrEqual(1);
    expect(await page.locator('p.peak-second').textContent()).toMatch(
      /^The busiest second: \d\d:\d\d:\d\d UTC, \d+ runs? starts? in it\.$/,
    );
    await page.screenshot({ path: join(DOCS, 'dashboard-timeline.png') });
    await page.goto(`${base}/#/entry/berlin-morning`);
    await page.locator('ul.fires-compact time').first().waitFor();
    // Twenty fires at 07:00 in Berlin: a line per day, each with its wall time in the entry's zone.
    expect(await page.locator('ul.fires-compact time').count()).toBe(20);
    expect(await page.locator('ul.fires-compact li').count()).toBe(20);
    for (const at of await page.locator('ul.fires-compact time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime'))))
      expect(at).toMatch(/T07:00:00\+0[12]:00$/);
    // The definition as written in the config file, with its source; the resolved view one click away.
    expect(await page.locator('p.written-source').textContent()).toMatch(/^As written in \S+\.json, beatSchedule\.berlin-morning$/);
    expect(JSON.parse((await page.locator('p.written-source + pre.json').textContent()) ?? '')).toEqual({
      task: TASK,
      schedule: { crontab: { minute: '0', hour: '7' } },
      timezone: 'Europe/Berlin',
    });
    expect(await page.locator('details.resolved pre.json').isVisible()).toBe(false);
    await page.locator('details.resolved summary').click();
    expect(await page.locator('details.resolved pre.json').textContent()).toContain('"kind": "cron"');
    // The full list on demand: 200 instants.
    await page.locator('details.fires-all summary').click();
    await page.getByRole('button', { name: 'Show the next 200' }).click();
    await expect.poll(() => page.locator('details.fires-all ol.fires li').count()).toBe(200);
    await page.locator('details.fires-all summary').click();
    await page.locator('details.resolved summary').click();
    await page.evaluate('window.scrollTo(0, 0)');
    expect(await page.locator('h2', { hasText: /^Message of / }).textContent()).toBe('Message of the next run');
    await page.screenshot({ path: join(DOCS, 'dashboard-entry.png') });
    // A disabled entry has no next run: its message is what a manual run would send, and says so.
    await page.goto(`${base}/#/entry/off`);
    await expect.poll(() => page.locator('h2', { hasText: /^Message of / }).textContent()).toBe('Message of a manual run');
    await page.goto(`${base}/#/deployment`);
    const leader = await redis.hget(schedulerKeys('tsbeat', name).leader, 'instance');
    await expect.poll(() => page.locator('dl.facts').textContent()).toContain(`${leader} since`);
    // The registry lists both processes, the leader first; the standby's heartbeat age moves with the page's refresh.
    const standbyId = String((await standby.waitForEvent(EVENTS.start, 5000))['instance']);
    const roles = (): Promise<(string | null)[][]> =>
      page
        .locator('table.replicas tbody tr')
        .evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-replica'), r.getAttribute('data-role')]));
    await expect.poll(roles, { timeout: 15_000 }).toEqual([
      [leader, 'leader'],
      [standbyId, 'standby'],
    ]);
    const standbyRow = page.locator(`table.replicas tr[data-role="standby"]`);
    expect(await standbyRow.locator('td[data-label="PID"]').textContent()).toBe(String(standby.pid));
    expect(await standbyRow.locator('td[data-label="Heartbeat"]').textContent()).toMatch(/^\d+\.\d s ago$/);
    expect(await page.locator('dl.facts').textContent()).toContain('Standbys1');
    await page.screenshot({ path: join(DOCS, 'dashboard-deployment.png'), fullPage: true });
    await page.close();
    const narrow = await open(360, 760);
    const width = await narrow.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(360);
    expect(await narrow.locator('tr[data-entry="tick"] td[data-label="Task"]').isVisible()).toBe(true);
    await narrow.screenshot({ path: join(DOCS, 'dashboard-narrow.png') });
    await narrow.close();
  }, 60_000);
});
