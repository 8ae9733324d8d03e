/**
 * The Dead letters tab of the dashboard (issue 70), in a real headless Chromium (Debian's, driven by
 * playwright-core) against a real `beat run --http` on a private redis-server: the list as the
 * session may read it; Replay… and Discard… each ask first (a dismissed confirmation changes
 * nothing), then a replay publishes the slot's message once through the leader (the broker's list)
 * and the item leaves the list, a discard removes it, both audited under the session's name.
 * The items are written to Redis as run-history.lua writes them (dead-letter-codec.ts): how a
 * failed run gets there with a real worker is test/integration/dead-letter.test.ts.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { deadLetterId, replayTaskId, slotTaskId } from '../../src/celery/task-id.js';
import type { DeadLetter } from '../../src/ports/outcomes.js';
import { encodeDeadLetter } from '../../src/redis/dead-letter-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-dead-token-0123456789';

describe.skipIf(!existsSync(CHROMIUM))('the Dead letters tab (headless Chromium, real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let browser: Browser;
  let base: string;
  let name: string;
  const letters: DeadLetter[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    name = uniqueName('dash-dead');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      taskEvents: true,
      lock: FAST_LOCK,
      beatSchedule: {
        nightly: { task: 't.nightly', schedule: 86_400, options: { queue: 'q-nightly' } },
        weekly: { task: 't.weekly', schedule: 604_800, options: { queue: 'q-weekly' } },
      },
    });
    const keys = schedulerKeys('tsbeat', name);
    for (const slotMs of [Date.parse('2026-11-20T03:00:00Z'), Date.parse('2026-11-21T03:00:00Z')]) {
      const retryOf = slotTaskId(name, 'nightly', slotMs);
      const letter: DeadLetter = {
        id: deadLetterId('nightly', retryOf),
        entry: 'nightly',
        slotMs,
        taskId: retryOf,
        retryOf,
        attempts: 3,
        end: 'failure',
        exception: 'KeyError: customer',
        atMs: slotMs + 60_000,
      };
      letters.push(letter);
      await redis.hset(keys.deadLetterItems, letter.id, encodeDeadLetter(letter));
      await redis.zadd(keys.deadLetters, String(letter.atMs), letter.id);
    }
    const beat = fleet.spawn({ config: file, label: 'dashboard', args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
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

  it('lists the items; Replay… and Discard… act only after their confirmation, audited', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const [older, newer] = letters as [DeadLetter, DeadLetter];
    const dialogs: string[] = [];
    let accept = true;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void (accept ? dialog.accept() : dialog.dismiss());
    });
    await page.goto(`${base}/`);
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const row = (d: DeadLetter) => page.locator(`tr[data-dead-letter="${d.id}"]`);
    await row(older).waitFor({ timeout: 10_000 });
    expect(await row(older).innerText()).toContain('KeyError: customer');
    expect(await page.locator('tr[data-dead-letter]').count()).toBe(2);

    // Dismissed: nothing happens.
    accept = false;
    await row(older).getByRole('button', { name: 'Discard…' }).click();
    await sleep(500);
    expect(await redis.zcard(keys.deadLetters)).toBe(2);
    accept = true;

    await row(older).getByRole('button', { name: 'Replay…' }).click();
    await row(older).waitFor({ state: 'detached', timeout: 10_000 });
    expect(dialogs[1]).toContain(`Replay nightly's slot ${new Date(older.slotMs).toISOString()}?`);
    const published = await waitUntil(
      'the replay on the broker',
      async () => {
        const messages = await redis.lrange('q-nightly', 0, -1);
        return messages.length > 0 ? messages : undefined;
      },
      10_000,
    );
    expect(published).toHaveLength(1);
    expect((JSON.parse(published[0]!) as { headers: { id: string } }).headers.id).toBe(replayTaskId(older.id));

    await row(newer).getByRole('button', { name: 'Discard…' }).click();
    await page.getByText('The dead-letter list is empty.').waitFor({ timeout: 10_000 });
    expect(await redis.zcard(keys.deadLetters)).toBe(0);
    expect(await redis.llen('q-nightly')).toBe(1);
    const actions = (await redis.xrange(keys.audit, '-', '+')).map(([, f]) => [f[f.indexOf('action') + 1], f[f.indexOf('who') + 1]]);
    expect(actions).toEqual([
      ['dead-letter-replay', 'dashboard:api'],
      ['dead-letter-discard', 'dashboard:api'],
    ]);
    await page.close();
  });

  it('says when the leader refused a replay, and the item is back on the list', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const slotMs = Date.parse('2026-11-22T03:00:00Z');
    const retryOf = slotTaskId(name, 'weekly', slotMs);
    const letter: DeadLetter = {
      id: deadLetterId('weekly', retryOf),
      entry: 'weekly',
      slotMs,
      taskId: retryOf,
      retryOf,
      attempts: 1,
      end: 'failure',
      atMs: slotMs + 60_000,
    };
    await redis.hset(keys.deadLetterItems, letter.id, encodeDeadLetter(letter));
    await redis.zadd(keys.deadLetters, String(letter.atMs), letter.id);
    // The entry's queue key holds a string: the leader's trigger script refuses the run (its reply 3).
    await redis.set('q-weekly', 'not a list');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${base}/`);
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const row = page.locator(`tr[data-dead-letter="${letter.id}"]`);
    await row.getByRole('button', { name: 'Replay…' }).click();
    const notice = page.locator('#banner .notice.error');
    await notice.waitFor({ timeout: 15_000 });
    expect(await notice.innerText()).toMatch(
      /^The leader refused the replay of weekly .*"q-weekly" holds a string.*the item is back on the list$/,
    );
    expect(await page.locator('#banner').innerText()).not.toContain('Replayed');
    await waitUntil(
      'the item back on the list',
      async () => ((await redis.zscore(keys.deadLetters, letter.id)) === null ? undefined : true),
      10_000,
    );
    await page.close();
  });
});
