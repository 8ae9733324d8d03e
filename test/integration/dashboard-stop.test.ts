/**
 * The deployment-wide stop in the dashboard, in a real headless Chromium (Debian's, driven by
 * playwright-core) against a real `beat run --http` on a private redis-server: "Stop all…" with a
 * note, after a confirmation, sets the stop (audited under the session's name) and nothing is
 * published meanwhile, by the broker list; every page shows the red banner with who, since when
 * and the note; "Resume all", after its confirmation, lifts it and publishing goes on.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-stop-token-0123456789';

describe.skipIf(!existsSync(CHROMIUM))('the deployment-wide stop in the dashboard (headless Chromium, real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let beat: BeatProcess;
  let browser: Browser;
  let base: string;
  let name: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    name = uniqueName('dash-stop');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { every: { task: 't.every', schedule: 1 } },
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

  it('Stop all… and Resume all, each after a confirmation: the red banner on every page, nothing published meanwhile', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const dialogs: string[] = [];
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.goto(`${base}/`);
    await page.locator('tr[data-entry="every"]').waitFor({ timeout: 15_000 });
    // Logged out: no control, no banner.
    expect(await page.locator('#stop').innerText()).toBe('');
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });

    await page.fill('input[name="stop-note"]', 'incident 4711');
    await page.getByRole('button', { name: 'Stop all…' }).click();
    const banner = page.locator('#stop .stopped[role="alert"]');
    await banner.waitFor({ timeout: 5_000 });
    expect(dialogs).toEqual([`Stop the whole deployment ${name}? No replica publishes anything until it is resumed.`]);
    expect(await banner.innerText()).toMatch(
      /Deployment stopped by dashboard:api since \S+ \(note: incident 4711\): no replica publishes anything\./,
    );
    // Red: the banner's computed background.
    expect(await page.evaluate<string>(`getComputedStyle(document.querySelector('#stop .stopped')).backgroundColor`)).toBe(
      'rgb(176, 0, 32)',
    );
    expect(JSON.parse((await redis.get(keys.stop)) ?? '{}')).toMatchObject({ by: 'dashboard:api', note: 'incident 4711' });
    const baseline = await redis.llen('celery');
    await page.screenshot({ path: 'docs/images/dashboard-stopped.png' });

    // On another page too, and the deployment page says it.
    await page.goto(`${base}/#/deployment`);
    await page.locator('#stop .stopped').waitFor({ timeout: 5_000 });
    expect(await page.locator('dl.facts').innerText()).toContain('by dashboard:api since');
    await sleep(2500);
    expect(await redis.llen('celery')).toBe(baseline);

    await page.fill('input[name="stop-note"]', 'resolved');
    await page.getByRole('button', { name: 'Resume all' }).click();
    await page.getByRole('button', { name: 'Stop all…' }).waitFor({ timeout: 5_000 });
    expect(dialogs[1]).toBe(`Resume the deployment ${name}? Each entry catches up the slots that passed by its catchUp.`);
    expect(await redis.exists(keys.stop)).toBe(0);
    await waitUntil('a publish after the resume', async () => ((await redis.llen('celery')) > baseline ? true : undefined), 5_000);
    const actions = (await redis.xrange(keys.audit, '-', '+')).map(([, f]) => [
      f[f.indexOf('action') + 1],
      f[f.indexOf('who') + 1],
      f[f.indexOf('note') + 1],
    ]);
    expect(actions).toEqual([
      ['pause-all', 'dashboard:api', 'incident 4711'],
      ['resume-all', 'dashboard:api', 'resolved'],
    ]);
    await page.close();
  });
});
