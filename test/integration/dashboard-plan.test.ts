/**
 * The dashboard's Plan tab (issue 65), in a real headless Chromium (Debian's, driven by playwright-core)
 * against a real `beat run --http` on a private redis-server: two entries pasted for an owner plan as
 * two adds with the load before and after; a dismissed confirmation applies nothing; a confirmed apply
 * writes them (the store's records, one audit event under the session's name); a changed entry plans
 * as one change; a body the API refuses shows its problems naming the field; and a write to the store
 * between the plan and the apply is refused 409 PLAN_STALE, nothing written, and the page says so;
 * a session whose grants do not cover the owner's entries is refused 403, its plan as its apply (no
 * stored field of them shown), nothing written.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { EntryPlan } from '../../src/control/entry-plan.js';
import type { PlanWire } from '../../src/dashboard/wire.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-plan-token-0123456789';
/** A token that may edit the entries of owner billing only. */
const BILLING_TOKEN = 'dashboard-plan-billing-0123456789';
const TASK = 'tsbeat_test.record';

/** The page's wire type takes what the plan is: a field the plan gains or changes and the page does not know fails to compile here. */
const asWire = (plan: EntryPlan): PlanWire => plan;

describe.skipIf(!existsSync(CHROMIUM))('the Plan tab: plan and apply an owner’s entries (headless Chromium, real beat run)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let beat: BeatProcess;
  let browser: Browser;
  let base: string;
  let keys: ReturnType<typeof schedulerKeys>;
  let page: Page;
  const dialogs: string[] = [];
  let answerDialog = true;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    const name = uniqueName('dash-plan');
    keys = schedulerKeys('tsbeat', name);
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { static: { task: TASK, schedule: 3600 } },
    });
    const tokens = dir.write('tokens', `api:${TOKEN}\nbill-owner:editor@owner=billing:${BILLING_TOKEN}\n`);
    beat = fleet.spawn({ config: file, label: 'dashboard', args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    base = `http://127.0.0.1:${await httpPortOf(beat)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void (answerDialog ? dialog.accept() : dialog.dismiss());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  const records = async (): Promise<Record<string, { entry: Record<string, unknown> }>> =>
    Object.fromEntries(
      Object.entries(await redis.hgetall(keys.entries)).map(([n, text]) => [n, JSON.parse(text) as { entry: Record<string, unknown> }]),
    );
  const applies = async () => (await redis.xrange(keys.audit, '-', '+')).filter(([, f]) => f[f.indexOf('action') + 1] === 'apply');
  const plan = async (owner: string, entries: unknown): Promise<void> => {
    await page.fill('input[name="owner"]', owner);
    await page.fill('textarea[name="entries"]', typeof entries === 'string' ? entries : JSON.stringify(entries, null, 2));
    await page.click('button[data-action="plan"]');
  };

  it('is read-only until logged in, saying how to plan and apply', async () => {
    await page.goto(`${base}/#/plan`);
    await page.locator('p.read-only').waitFor({ timeout: 15_000 });
    expect(await page.locator('p.read-only').innerText()).toContain('Log in with the API token');
    expect(await page.locator('textarea[name="entries"]').count()).toBe(0);
    await page.fill('input[name="token"]', TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.locator('textarea[name="entries"]').waitFor({ timeout: 10_000 });
  });

  it('plans two adds with the load before and after; a dismissed confirmation applies nothing; a confirmed one writes both, audited under the session', async () => {
    const wanted = { 'gitops-hourly': { task: TASK, schedule: 3600 }, 'gitops-minutely': { task: TASK, schedule: 60 } };
    await plan('gitops', wanted);
    await page.locator('p.plan-counts').waitFor({ timeout: 10_000 });
    expect(await page.locator('p.plan-counts').innerText()).toBe('2 to add, 0 to change, 0 to remove, 0 unchanged');
    expect(await page.locator('tr[data-action="add"]').count()).toBe(2);
    expect(await page.locator('tr[data-entry="gitops-minutely"] td.fires-after').innerText()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d/);
    expect(await page.locator('tr[data-entry="gitops-minutely"] td.fires-before').innerText()).toBe('—');
    // The owner holds nothing yet: no run now; after, a run a minute and one an hour over the next 24 h.
    const now = await page.locator('table.plan-load tr[data-side="now"]').innerText();
    const after = await page.locator('table.plan-load tr[data-side="after"]').innerText();
    expect(now).toMatch(/^Now\s+0\b/);
    const total = Number(/^After\s+([\d,]+)/.exec(after)?.[1]?.replace(/,/g, ''));
    expect(total).toBeGreaterThanOrEqual(1462);
    expect(total).toBeLessThanOrEqual(1466);
    expect(after).toMatch(/[12] at \d{4}-\d\d-\d\d \d\d:\d\dZ/);
    // The page shows what the API planned: the same digest (its type is the plan's, asWire).
    const digest = await page.locator('p.plan-counts').getAttribute('data-digest');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const viaApi = await page.evaluate<EntryPlan, typeof wanted>(async (entries) => {
      const csrf = ((await (await fetch('/ui/api/overview')).json()) as { csrf: string }).csrf;
      const res = await fetch('/api/plan', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify({ owner: 'gitops', entries }),
      });
      return (await res.json()) as EntryPlan;
    }, wanted);
    expect(asWire(viaApi).digest).toBe(digest);

    answerDialog = false;
    dialogs.length = 0;
    await page.click('button[data-action="apply"]');
    await expect.poll(() => dialogs.length).toBe(1);
    expect(dialogs[0]).toBe("Apply the plan for owner gitops? It adds 2, changes 0 and removes 0 of the owner's entries, in one write.");
    expect(Object.keys(await records())).toEqual([]);
    expect(await applies()).toEqual([]);

    answerDialog = true;
    await page.fill('input[name="note"]', 'from the page');
    await page.click('button[data-action="apply"]');
    await page.locator('p.answer', { hasText: 'Applied for owner gitops: 2 added, 0 changed, 0 removed' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('button[data-action="apply"]').count()).toBe(0);
    const stored = await records();
    expect(Object.keys(stored).sort()).toEqual(['gitops-hourly', 'gitops-minutely']);
    expect(stored['gitops-minutely']?.entry).toEqual({ task: TASK, schedule: 60, owner: 'gitops' });
    const events = await applies();
    expect(events).toHaveLength(1);
    const fields = events[0]?.[1] ?? [];
    const field = (k: string) => fields[fields.indexOf(k) + 1];
    expect([field('who'), field('note')]).toEqual(['dashboard:api', 'from the page']);
    expect(JSON.parse(field('changes') ?? '[]')).toEqual(
      expect.arrayContaining([
        { path: 'digest', after: digest },
        { path: 'added', after: '2' },
      ]),
    );
  }, 60_000);

  it('shows a body the API refuses (400) with its problems, naming the field', async () => {
    await plan('gitops', { 'gitops-hourly': { task: TASK, schedule: 3600 }, 'gitops-bad': { task: TASK, schedule: 'every blue moon' } });
    await page.locator('pre.problems:not(:empty)').waitFor({ timeout: 10_000 });
    const text = await page.locator('pre.problems').innerText();
    expect(text).toMatch(/^400 ENTRY_INVALID: /);
    expect(text).toContain('entries.gitops-bad.schedule');
    expect(await page.locator('p.plan-counts').count()).toBe(0);
    await plan('bil\u034Fling', {});
    await expect.poll(() => page.locator('pre.problems').innerText()).toMatch(/^400 ENTRY_INVALID: [\s\S]*\bowner: /);
  }, 30_000);

  it('plans one changed entry as one change, and refuses its apply (409 PLAN_STALE, nothing written) after another write to the store', async () => {
    await plan('gitops', { 'gitops-hourly': { task: TASK, schedule: 3600 }, 'gitops-minutely': { task: TASK, schedule: 120 } });
    await page.locator('p.plan-counts').waitFor({ timeout: 10_000 });
    expect(await page.locator('p.plan-counts').innerText()).toBe('0 to add, 1 to change, 0 to remove, 1 unchanged');
    expect(await page.locator('tr[data-action]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-entry')))).toEqual([
      'gitops-minutely',
    ]);
    expect(await page.locator('tr[data-entry="gitops-minutely"] td.changes').innerText()).toContain('schedule');

    // Someone else writes the owner's entry between the plan and the apply.
    await new RedisEntryStore(redis, keys).write(
      [{ op: 'put', name: 'gitops-minutely', entry: { task: TASK, schedule: 300, owner: 'gitops' } }],
      {
        nowMs: Date.now(),
      },
    );
    const before = await records();
    dialogs.length = 0;
    await page.click('button[data-action="apply"]');
    await page.locator('pre.problems:not(:empty)').waitFor({ timeout: 10_000 });
    expect(dialogs).toEqual(["Apply the plan for owner gitops? It adds 0, changes 1 and removes 0 of the owner's entries, in one write."]);
    expect(await page.locator('pre.problems').innerText()).toMatch(/^409 PLAN_STALE: the store or the entries changed since the plan/);
    expect(await page.locator('p.answer').innerText()).toContain('Nothing was applied');
    expect(await page.locator('button[data-action="apply"]').count()).toBe(0);
    expect(await records()).toEqual(before);
    expect(before['gitops-minutely']?.entry).toEqual({ task: TASK, schedule: 300, owner: 'gitops' });
    expect(await applies()).toHaveLength(1);
    await page.screenshot({ path: 'docs/images/dashboard-plan.png', fullPage: true });
  }, 60_000);

  it("refuses the plan and the apply of a session whose grants do not cover the owner's entries (403 FORBIDDEN): nothing shown of them, nothing written", async () => {
    await page.click('button:has-text("Log out")');
    await page.fill('input[name="token"]', BILLING_TOKEN);
    await page.press('input[name="token"]', 'Enter');
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: 10_000 });
    await page.locator('textarea[name="entries"]').waitFor({ timeout: 10_000 });
    const before = await records();
    // gitops-minutely is stored (the first test's apply): a plan of its change would show its stored fields.
    const gitops = { 'gitops-minutely': { task: TASK, schedule: 600 }, 'gitops-hourly': { task: TASK, schedule: 1800 } };
    await plan('gitops', gitops);
    await page.locator('pre.problems:not(:empty)').waitFor({ timeout: 10_000 });
    expect(await page.locator('pre.problems').innerText()).toMatch(/^403 FORBIDDEN: .*owner gitops.*editor@owner=billing/s);
    expect(await page.locator('p.plan-counts').count()).toBe(0);
    // The API itself, called with the session as the page calls it: the plan (with the load) and the apply both 403.
    const asked = await page.evaluate(
      async (body) => {
        const { csrf } = (await (await fetch('/ui/api/overview')).json()) as { csrf: string };
        const send = async (path: string) => {
          const reply = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body });
          return { status: reply.status, text: await reply.text() };
        };
        return [await send('/api/plan?horizon=1h'), await send('/api/apply')];
      },
      JSON.stringify({ owner: 'gitops', entries: gitops }),
    );
    for (const answer of asked) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'FORBIDDEN' });
      expect(answer.text).not.toContain('"before"');
    }
    expect(await records()).toEqual(before);
    expect(await applies()).toHaveLength(1);
    // Its own owner's plan is answered.
    await plan('billing', { 'billing-nightly': { task: TASK, schedule: 86400 } });
    await page.locator('p.plan-counts').waitFor({ timeout: 10_000 });
    expect(await page.locator('pre.problems').innerText()).toBe('');
  }, 60_000);
});
