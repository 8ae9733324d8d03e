/**
 * Labels and selectors in the dashboard, in a real headless Chromium (Debian's, driven by
 * playwright-core) against a real `beat run --http` on a private redis-server: the Labels column,
 * the selector filter (a selector that does not parse is shown with its position), and a bulk pause
 * clicked in the page: its confirmation names the count, it pauses exactly the selected entries in
 * Redis with one audit event, and the server refuses a count that is no longer the selection's.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-labels-token-0123456789';
const TASK = 'tsbeat_test.record';

describe.skipIf(!existsSync(CHROMIUM))('labels and bulk actions in the dashboard (headless Chromium, real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let beat: BeatProcess;
  let browser: Browser;
  let base: string;
  let name: string;
  const dialogs: string[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    name = uniqueName('dash-labels');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        invoice: { task: TASK, schedule: 60, labels: { team: 'billing', tier: 'critical' } },
        ledger: { task: TASK, schedule: 60, labels: { team: 'billing', tier: 'batch' } },
        cleanup: { task: TASK, schedule: 60, labels: { team: 'ops', tier: 'batch' } },
        plain: { task: TASK, schedule: 60 },
      },
    });
    beat = fleet.spawn({ config: file, label: 'dashboard', args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
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

  async function open(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.goto(`${base}/`);
    await page.locator('tr[data-entry="invoice"]').waitFor({ timeout: 15_000 });
    return page;
  }

  const shownRows = (page: Page): Promise<string[]> =>
    page.evaluate<string[]>(`[...document.querySelectorAll('tbody tr')].map((r) => r.getAttribute('data-entry'))`);

  it('shows labels in a column, filters by a selector, and names the position of one that does not parse', async () => {
    const page = await open();
    await expect(page.locator('tr[data-entry="ledger"] td.labels').innerText()).resolves.toMatch(/team=billing\s*tier=batch/);
    await page.fill('input[name="selector"]', 'team=billing,tier!=batch');
    await waitUntil('the filtered list', async () => ((await shownRows(page)).join() === 'invoice' ? true : undefined), 5_000);
    await page.fill('input[name="selector"]', 'team in billing');
    await page.locator('p.notice.error:not([hidden])').waitFor({ timeout: 5_000 });
    expect(await page.locator('p.notice.error').innerText()).toContain('at character 9');
    await page.close();
  });

  it('draws no answer to filters changed since: a list asked before the selector was typed, answered after, neither shows nor counts', async () => {
    const page = await open();
    // The answers to lists asked without a selector come late (as on a slow link), the others at once.
    await page.route('**/ui/api/entries?*', async (route) => {
      if (!new URL(route.request().url()).searchParams.has('selector')) await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue().catch(() => undefined);
    });
    const late = page.waitForResponse((r) => r.url().includes('/ui/api/entries?') && !new URL(r.url()).searchParams.has('selector'));
    await page.locator('th button.sort').first().click(); // a sort: a list asked at once, without a selector
    await page.fill('input[name="selector"]', 'tier=batch');
    await page.locator('div.bulk:not([hidden])').waitFor({ timeout: 5_000 });
    await (await late).finished();
    // The page's own handling of that answer (its JSON read, then the draw it would make) runs after.
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
    expect(await page.locator('div.bulk').innerText()).toContain('2 selected by tier=batch');
    expect((await shownRows(page)).sort()).toEqual(['cleanup', 'ledger']);
    await page.close();
  });

  it('pauses the selected entries after a confirmation that names the count: one audit event, the others untouched', async () => {
    const page = await open();
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
    await page.fill('input[name="selector"]', 'tier=batch');
    await page.locator('div.bulk:not([hidden])').waitFor({ timeout: 5_000 });
    expect(await page.locator('div.bulk').innerText()).toContain('2 selected by tier=batch');
    dialogs.length = 0;
    await page.click('button[data-bulk="pause"]');
    await page.locator('div.bulk .answer', { hasText: 'Paused 2 of 2' }).waitFor({ timeout: 5_000 });
    expect(dialogs).toEqual(['Pause the 2 entries the selector tier=batch selects?']);
    const keys = schedulerKeys('tsbeat', name);
    expect((await redis.smembers(keys.paused)).sort()).toEqual(['cleanup', 'ledger']);
    const pauses = (await redis.xrange(keys.audit, '-', '+')).filter(([, f]) => f[f.indexOf('action') + 1] === 'pause');
    expect(pauses).toHaveLength(1);
    const fields = pauses[0]?.[1] ?? [];
    expect([fields[fields.indexOf('who') + 1], fields[fields.indexOf('selector') + 1], fields[fields.indexOf('entries') + 1]]).toEqual([
      'dashboard:api',
      'tier=batch',
      '["cleanup","ledger"]',
    ]);
    await page.locator('tr[data-entry="ledger"] .badge.paused').waitFor({ timeout: 5_000 });

    // A count that is not the selection's any more (a page left open while labels changed) is refused, nothing done.
    const stale = await page.evaluate<{ status: number; body: { code: string } }>(`(async () => {
      const csrf = (await (await fetch('/ui/api/overview')).json()).csrf;
      const res = await fetch('/api/selected/resume?selector=tier%3Dbatch', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ count: 3 }),
      });
      return { status: res.status, body: await res.json() };
    })()`);
    expect(stale).toMatchObject({ status: 409, body: { code: 'SELECTION_CHANGED' } });
    const none = await page.evaluate<{ status: number; body: { code: string } }>(`(async () => {
      const csrf = (await (await fetch('/ui/api/overview')).json()).csrf;
      const res = await fetch('/api/selected/pause?selector=team%3Dnobody', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ count: 1 }),
      });
      return { status: res.status, body: await res.json() };
    })()`);
    expect(none).toMatchObject({ status: 409, body: { code: 'NOTHING_SELECTED' } });
    expect((await redis.smembers(keys.paused)).sort()).toEqual(['cleanup', 'ledger']);
    await page.close();
  });
});
