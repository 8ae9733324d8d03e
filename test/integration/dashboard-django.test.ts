/**
 * The dashboard's entry page for django-celery-beat rows, in a real headless Chromium (Debian's,
 * driven by playwright-core) against a real `beat run` reading a private PostgreSQL whose tables
 * `manage.py migrate` made and whose rows Django's ORM wrote (test/django_project/orm.py): the
 * definition "as written" is the row as the database holds it (a crontab, an interval and a
 * clocked row, with their schedule rows' fields, and args and kwargs as the JSON text Django
 * stored), the resolved view one click away. Then the backfill form on a django entry: a dry run
 * lists the slots of the range (held to plain minute arithmetic), a submit publishes each once into
 * the private Redis broker with the task id its slot gives it (computed here from RFC 9562).
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { DjangoOrm, manage } from '../support/django.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { slotId } from '../support/slot-id.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-django-token-0123456789';
const TASK = 'tsbeat_test.record';
const MINUTE = 60_000;

describe.skipIf(!existsSync(CHROMIUM))('the dashboard on django-celery-beat rows (PostgreSQL, headless Chromium)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const pg = new PrivatePostgres(25437);
  const dbUrl = pg.url('django');
  let redisServer: PrivateRedis;
  let redis: Redis;
  let orm: DjangoOrm;
  let browser: Browser;
  let base: string;
  let name: string;
  let backfillTries = 0;

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    redis = new Redis(redisServer.url(0));
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
    const cron = { minute: '30', hour: '4', day_of_week: '1-5', day_of_month: '*', month_of_year: '*', timezone: 'Europe/Berlin' };
    await orm.call({
      op: 'create',
      name: 'dj-cron',
      task: TASK,
      crontab: cron,
      args: ['a', 1],
      kwargs: { n: 2, who: 'ops' },
      queue: 'reports',
    });
    await orm.call({ op: 'create', name: 'dj-every', task: TASK, interval: { every: 10, period: 'minutes' }, priority: 5 });
    await orm.call({ op: 'create', name: 'dj-once', task: TASK, clocked: '2030-01-01T10:00:00Z', one_off: true });
    const minutely = { minute: '*', hour: '*', day_of_week: '*', day_of_month: '*', month_of_year: '*', timezone: 'UTC' };
    await orm.call({ op: 'create', name: 'dj-minutely', task: TASK, crontab: minutely, queue: 'minutely' });
    name = uniqueName('dashboard-django');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redisServer.url(0) },
      // The default lock, not FAST_LOCK: one replica needs no quick failover.
      sources: { django: { url: dbUrl } },
      beatSchedule: {},
    });
    const beat = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'], env: { BEAT_API_TOKEN: TOKEN } });
    await beat.waitForEvent(EVENTS.lockAcquired, 20_000);
    // The rows were there before the first start: the django source's anchors for them (their
    // date_changed as first sighting) may reach the empty state before the leader begins the record
    // of passed-over slots. No scheduler ever ran them, so the record starts at 0 all the same
    // (seed-state.lua): begun after them, the backfill below found every slot before a sighting
    // "unrecorded" and skipped all 10 (CI, and 1 in 3 here under load, before the fix).
    const keys = schedulerKeys('tsbeat', name);
    const since = await waitUntil(
      'the record of passed-over slots begun',
      async () => (await redis.get(keys.passedSince)) ?? undefined,
      20_000,
    );
    expect(since).toBe('0');
    base = `http://127.0.0.1:${await httpPortOf(beat)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.killAll();
    await orm?.close();
    redis?.disconnect();
    await redisServer?.stop();
    await pg.stop();
    dir.remove();
  });

  async function entryPage(entry: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/#/entry/${encodeURIComponent(entry)}`);
    await page.locator('p.written-source').waitFor({ timeout: 20_000 });
    return page;
  }

  const writtenOf = async (page: Page): Promise<Record<string, unknown>> =>
    JSON.parse((await page.locator('p.written-source + pre.json').textContent()) ?? '') as Record<string, unknown>;

  it('shows each row as the database holds it, with its tables and ids; the resolved view one click away', async () => {
    const cron = await entryPage('dj-cron');
    expect(await cron.locator('p.written-source').textContent()).toMatch(
      /^As written in django-celery-beat: "django_celery_beat_periodictask" id \d+, "django_celery_beat_crontabschedule" id \d+$/,
    );
    const row = await writtenOf(cron);
    expect(row).toEqual({
      name: 'dj-cron',
      task: TASK,
      // The JSON text Django stored (json.dumps), not tsbeat's reading of it.
      args: '["a", 1]',
      kwargs: '{"n": 2, "who": "ops"}',
      queue: 'reports',
      exchange: null,
      routing_key: null,
      headers: '{}',
      priority: null,
      expires: null,
      expire_seconds: null,
      one_off: false,
      start_time: null,
      enabled: true,
      crontab: { minute: '30', hour: '4', day_of_week: '1-5', day_of_month: '*', month_of_year: '*', timezone: 'Europe/Berlin' },
    });
    // The resolved view: tsbeat's own reading of the same row, behind its summary.
    await cron.locator('details.resolved summary').click();
    const resolved = JSON.parse((await cron.locator('details.resolved pre.json').textContent()) ?? '') as Record<string, unknown>;
    expect(resolved).toMatchObject({ task: TASK, args: ['a', 1], kwargs: { n: 2, who: 'ops' }, timezone: 'Europe/Berlin' });
    await cron.close();

    const every = await entryPage('dj-every');
    expect(await every.locator('p.written-source').textContent()).toMatch(/"django_celery_beat_intervalschedule" id \d+$/);
    expect(await writtenOf(every)).toMatchObject({ name: 'dj-every', args: '[]', priority: 5, interval: { every: 10, period: 'minutes' } });
    expect(await writtenOf(every)).not.toHaveProperty('crontab');
    await every.close();

    const once = await entryPage('dj-once');
    // The timestamp as PostgreSQL gives it (its text, unparsed).
    expect(await writtenOf(once)).toMatchObject({ one_off: true, clocked: { clocked_time: '2030-01-01 10:00:00+00' } });
    await once.close();
  }, 120_000);

  it('the backfill form: a dry run lists the slots of the range, a submit publishes each once with its slot id', async () => {
    // Ten whole minutes, half an hour back: before the entry was first seen, so none ran. A retry
    // takes the ten minutes before the last try's (which that try may have published).
    backfillTries += 1;
    // Seen by the leader (its first sighting stored): a slot of an entry with no state is the schedule's, not a backfill's.
    await waitUntil(
      'the leader to see dj-minutely',
      async () => ((await redis.hexists(schedulerKeys('tsbeat', name).state, 'dj-minutely')) === 1 ? true : undefined),
      20_000,
    );
    const fromMs = Math.floor(Date.now() / MINUTE) * MINUTE - (20 + 10 * backfillTries) * MINUTE;
    const toMs = fromMs + 9 * MINUTE;
    const minutes = Array.from({ length: 10 }, (_, i) => fromMs + i * MINUTE);
    const page = await entryPage('dj-minutely');
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
    const form = page.locator('form[data-action="backfill"]');
    await form.locator('input[name="from"]').fill(new Date(fromMs).toISOString());
    await form.locator('input[name="to"]').fill(new Date(toMs).toISOString());
    await form.locator('input[name="dryRun"]').check();
    await form.locator('button[type="submit"]').click();
    const dry = page.locator('.notice.ok', { hasText: 'Dry run' });
    await dry.waitFor({ timeout: 15_000 });
    const listed = ((await dry.textContent()) ?? '').replace(/^Dry run: 10 slots: /, '');
    expect(listed.split(', ').map((text) => Date.parse(text))).toEqual(minutes);
    expect(await readQueue(redis, 'minutely').then((runs) => runs.filter((r) => r.slotMs >= fromMs && r.slotMs <= toMs))).toEqual([]);

    await form.locator('input[name="dryRun"]').uncheck();
    await form.locator('button[type="submit"]').click();
    // (A loaded leader may take longer than the server's 5 s wait: the page then asks until it is done.)
    // Polled, not waited for: a failure names the notice the page showed instead (a refusal, the leader's progress).
    await expect
      .poll(async () => (await page.locator('#banner').textContent()) ?? '', { timeout: 45_000, interval: 250 })
      .toMatch(/^Backfilled: published 10, skipped 0/)
      .catch(async (error: unknown) => {
        // Why each slot was skipped: the request's progress, the entry's state and the record's start.
        const keys = schedulerKeys('tsbeat', name);
        const progress = await Promise.all((await redis.keys(keys.backfill('*'))).map((key) => redis.hgetall(key)));
        const record = { state: await redis.hget(keys.state, 'dj-minutely'), passedSince: await redis.get(keys.passedSince) };
        throw new Error(`${String(error)}; range ${fromMs}..${toMs}; ${JSON.stringify({ progress, ...record })}`, { cause: error });
      });
    const queued = (await readQueue(redis, 'minutely')).filter((r) => r.slotMs >= fromMs && r.slotMs <= toMs);
    expect(queued.map((r) => r.id).sort()).toEqual(minutes.map((ms) => slotId(name, 'dj-minutely', ms)).sort());

    // Again (the page was drawn again after the backfill: the range typed anew): none, every slot already published.
    await form.locator('input[name="from"]').fill(new Date(fromMs).toISOString());
    await form.locator('input[name="to"]').fill(new Date(toMs).toISOString());
    // An overlap policy that needs run outcomes, on a deployment that follows none: refused, naming the field.
    await form.locator('select[name="overlap"]').selectOption('bufferAll');
    await form.locator('button[type="submit"]').click();
    await page.locator('.notice.error', { hasText: 'overlap: overlap bufferAll needs to know when' }).waitFor({ timeout: 15_000 });
    await form.locator('select[name="overlap"]').selectOption('allowAll');
    await form.locator('button[type="submit"]').click();
    await expect
      .poll(async () => (await page.locator('#banner').textContent()) ?? '', { timeout: 45_000, interval: 250 })
      .toMatch(/^Backfilled: published 0, skipped 10; overlap allowAll/);
    expect((await readQueue(redis, 'minutely')).filter((r) => r.slotMs >= fromMs && r.slotMs <= toMs)).toHaveLength(10);
    await page.close();
  }, 150_000);
});
