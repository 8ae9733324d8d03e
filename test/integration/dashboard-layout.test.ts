/**
 * The entry list's layout in a real headless Chromium (Debian's, driven by playwright-core) against
 * a real `beat run --http` on a private redis-server: at 1,400 and 1,280 px the table fits the page,
 * with an rrule entry whose schedule in words is one long token (`RRULE:FREQ=WEEKLY;BYDAY=MO,FR;…`)
 * and a canvas entry whose task cell is a chain in words: no cell pushes the list off the right edge.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('the entry list fits the page (headless Chromium, real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    const name = uniqueName('dash-layout');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      lock: FAST_LOCK,
      beatSchedule: {
        'weekly-rrule': {
          task: 'reports.weekly_summary',
          schedule: {
            rrule: 'DTSTART:20260105T090000 RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,13,17;BYMINUTE=0,30;BYSECOND=0',
          },
        },
        pipeline: {
          schedule: 3600,
          chain: [{ task: 'etl.extract_orders' }, { task: 'etl.transform_orders' }, { task: 'etl.load_orders' }],
        },
        tick: { task: 'app.tick', schedule: 60, options: { queue: 'default' } },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'dashboard-layout', args: ['--http', '127.0.0.1:0'] });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    base = `http://127.0.0.1:${await httpPortOf(beat)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.killAll();
    await server?.stop();
    dir.remove();
  });

  it('at 1,400 and 1,280 px the list, with an rrule entry, runs off neither the page nor its own box', async () => {
    for (const width of [1400, 1280]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(`${base}/`);
      await page.locator('tr[data-entry="weekly-rrule"]').waitFor({ timeout: 15_000 });
      const sizes = await page.evaluate<{ page: number; table: number; box: number }>(`(() => {
        const table = document.querySelector('table.entries');
        const wrap = table.parentElement;
        return { page: document.documentElement.scrollWidth, table: table.getBoundingClientRect().width, box: wrap.clientWidth };
      })()`);
      expect(sizes.page, `${width} px: ${JSON.stringify(sizes)}`).toBeLessThanOrEqual(width);
      // The table in its box (which would scroll sideways): a px of rounding allowed.
      expect(sizes.table, `${width} px: ${JSON.stringify(sizes)}`).toBeLessThanOrEqual(sizes.box + 1);
      await page.close();
    }
  }, 60_000);
});
