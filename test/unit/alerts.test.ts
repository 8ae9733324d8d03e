/** Alert settings (schema, merge) and the deliveries an event makes (alert-rules.ts): pure. */
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/base/errors.js';
import { AlertDeliverer, backoffMs } from '../../src/alerts/deliverer.js';
import {
  finishedDeliveries,
  lateDeliveries,
  missedDeliveries,
  pingUrl,
  publishedPing,
  unconsumedDeliveries,
} from '../../src/alerts/alert-rules.js';
import { createLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { AlertOutbox, Delivery } from '../../src/ports/alerts.js';

function problemsOf(value: unknown): string[] {
  try {
    parseConfig(value, 'alerts.test');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('alert settings', () => {
  it('names every bad setting with its path', () => {
    expect(
      problemsOf({
        alerts: { webhook: 'ftp://example.com/x', on: ['failed', 'exploded'], lateAfter: '10ms' },
        beatSchedule: { a: { task: 't', schedule: 60, alerts: { ping: 'not a url', on: [] } } },
      }).sort(),
    ).toEqual(
      [
        'alerts.webhook: alerts.webhook must be an http:// or https:// URL, got "ftp://example.com/x"',
        'alerts.on[1]: alerts.on holds failed, missed, late, paused, unconsumed, stopped, dead-lettered',
        'alerts.lateAfter: alerts.lateAfter must be between 1 s and 1 day (86,400 s), got "10ms"',
        'beatSchedule.a.alerts.on: alerts.on must name at least one kind; leave alerts out for none',
        'beatSchedule.a.alerts.ping: alerts.ping must be an http:// or https:// URL, got "not a url"',
      ].sort(),
    );
  });

  it('takes failed alerts and pings where task events are read by default (as the default alerts.on does), refuses them where no outcome is read, and late without a result backend or taskEvents', () => {
    const entry = (alerts: unknown) => ({ task: 't', schedule: 60, alerts });
    const settings = {
      alerts: { webhook: 'https://hooks.example/a', on: ['failed'] },
      beatSchedule: { a: entry({ on: ['missed', 'late'], lateAfter: '5m', ping: 'https://hc-ping.com/u1' }) },
    };
    const how = "set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E)";
    const late = `beatSchedule.a.alerts.on: "late" alerts need to know how runs ended: ${how}, or leave "late" out`;
    // Neither set, on Redis: failures and successes are heard from the workers' task events.
    expect(problemsOf(settings)).toEqual([late]);
    // taskEvents: false reads nothing: a failed alert would never come, a ping's success never either.
    expect(problemsOf({ ...settings, taskEvents: false }).sort()).toEqual(
      [
        `alerts.on: "failed" alerts need to know how runs ended: ${how}, or leave "failed" out`,
        late,
        `beatSchedule.a.alerts.ping: a ping's success is sent when a run is heard to have succeeded, and this config reads no outcomes: ${how}, or drop ping`,
      ].sort(),
    );
    expect(
      problemsOf({
        resultBackend: 'redis://127.0.0.1:6379/1',
        beatSchedule: { a: entry({ webhook: 'https://hooks.example/a', on: ['late'] }) },
      }),
    ).toEqual([
      'beatSchedule.a.alerts.lateAfter: "late" alerts need lateAfter: how long after its publish a run counts as late (e.g. "30m")',
    ]);
    expect(
      problemsOf({
        resultBackend: 'redis://127.0.0.1:6379/1',
        alerts: { lateAfter: '10m' },
        beatSchedule: { a: entry({ webhook: 'https://hooks.example/a', on: ['late', 'failed'] }) },
      }),
    ).toEqual([]);
  });

  it("merges an entry's settings over the config's, and leaves entries without a target alone", () => {
    const config = parseConfig(
      {
        resultBackend: 'redis://127.0.0.1:6379/1',
        alerts: { webhook: 'https://hooks.example/a', on: ['missed'] },
        beatSchedule: {
          plain: { task: 't', schedule: 60 },
          own: { task: 't', schedule: 60, alerts: { on: ['failed', 'missed'], ping: 'https://hc-ping.com/u1' } },
        },
      },
      'alerts.test',
    );
    const [plain, own] = config.entries;
    expect(plain?.alerts).toEqual({ webhook: 'https://hooks.example/a', on: ['missed'], lateAfterMs: undefined, ping: undefined });
    expect(own?.alerts).toEqual({
      webhook: 'https://hooks.example/a',
      on: ['failed', 'missed'],
      lateAfterMs: undefined,
      ping: 'https://hc-ping.com/u1',
    });
    expect(parseConfig({ beatSchedule: { x: { task: 't', schedule: 60 } } }, 'alerts.test').entries[0]?.alerts).toBeUndefined();
  });

  it('without any `on`, sends failed, missed and unconsumed: a routing typo alerts with no setting', () => {
    const config = parseConfig(
      {
        alerts: { webhook: 'https://hooks.example/a' },
        beatSchedule: { x: { task: 't', schedule: 60, options: { queue: 'nc-reportz' } } },
      },
      'alerts.test',
    );
    expect(config.entries[0]?.alerts?.on).toEqual(['failed', 'missed', 'unconsumed', 'stopped', 'dead-lettered']);
  });
});

describe('alert deliveries', () => {
  const config = parseConfig(
    {
      name: 'prod',
      beatSchedule: {
        nightly: {
          task: 'reports.nightly',
          schedule: 60,
          alerts: { webhook: 'https://hooks.example/x', ping: 'https://hc-ping.com/u1/?k=1' },
        },
      },
    },
    'alerts.test',
  );
  const entry = config.entries[0];
  if (entry === undefined) throw new Error('no entry');
  const slotMs = Date.parse('2026-11-23T03:00:00Z');

  it('puts /start and /fail on the ping path, before its query', () => {
    expect(pingUrl('https://hc-ping.com/u1/?k=1', '/fail')).toBe('https://hc-ping.com/u1/fail?k=1');
    expect(pingUrl('https://hc-ping.com/u1', '/start')).toBe('https://hc-ping.com/u1/start');
    expect(pingUrl('https://hc-ping.com/u1', '')).toBe('https://hc-ping.com/u1');
  });

  it('makes one webhook alert and one failure ping for missed slots, keyed by entry and first slot', () => {
    const deliveries = missedDeliveries('prod', { entry, count: 3, reason: 'skip_late', firstSlotMs: slotMs, atMs: slotMs + 200_000 });
    expect(deliveries.map((d) => [d.id, d.url])).toEqual([
      [`missed:nightly:${slotMs}:webhook`, 'https://hooks.example/x'],
      [`missed:nightly:${slotMs}:ping`, 'https://hc-ping.com/u1/fail?k=1'],
    ]);
    expect(JSON.parse(deliveries[0]?.body ?? '')).toEqual({
      id: `missed:nightly:${slotMs}`,
      kind: 'missed',
      deployment: 'prod',
      entry: 'nightly',
      task: 'reports.nightly',
      slot: '2026-11-23T03:00:00.000Z',
      reason: '3 slots will not run: missed slots skipped (catchUp "skip")',
      count: 3,
      at: '2026-11-23T03:03:20.000Z',
    });
  });

  it('pings a publish as /start, never as the success (only a success heard from a worker is)', () => {
    expect(publishedPing(entry, slotMs, 'id-1').map((d) => d.url)).toEqual(['https://hc-ping.com/u1/start?k=1']);
  });

  it('a failure makes a failed alert with its exception; a success its ping; a run past lateAfter a late alert', () => {
    const run = {
      taskId: 'id-1',
      slotMs,
      publishedAtMs: slotMs + 5,
      state: 'FAILURE',
      exception: 'ValueError: boom',
      finishedAtMs: slotMs + 900,
    };
    const failed = finishedDeliveries('prod', entry, run, slotMs + 1000);
    expect(failed.map((d) => d.id)).toEqual([`failed:nightly:${slotMs}:webhook`, `failed:nightly:${slotMs}:ping`]);
    expect(JSON.parse(failed[0]?.body ?? '')).toMatchObject({
      kind: 'failed',
      taskId: 'id-1',
      state: 'FAILURE',
      reason: 'ValueError: boom',
    });
    // No part to name for a run of one task.
    expect(JSON.parse(failed[0]?.body ?? '').failedPart).toBeUndefined();
    // A canvas run's alert names its first failed part (the later steps Celery marks failed too are not it).
    const parts = [
      { path: 'chain[0]', task: 't.fetch', id: 'p0', state: 'SUCCESS', final: false },
      { path: 'chain[1]', task: 't.store', id: 'p1', state: 'FAILURE', final: false, exception: 'KeyError: k' },
      { path: 'chain[2]', task: 't.notify', id: 'id-1', state: 'FAILURE', final: true, exception: 'KeyError: k' },
    ];
    const canvas = finishedDeliveries(
      'prod',
      entry,
      { ...run, exception: 'chain[1] t.store (p1) failed: KeyError: k', parts },
      slotMs + 1000,
    );
    expect(JSON.parse(canvas[0]?.body ?? '')).toMatchObject({
      reason: 'chain[1] t.store (p1) failed: KeyError: k',
      failedPart: { path: 'chain[1]', task: 't.store', id: 'p1', exception: 'KeyError: k' },
    });
    expect(canvas[1]?.body).toBe('nightly: chain[1] t.store (p1) failed: KeyError: k\n');
    expect(finishedDeliveries('prod', entry, { ...run, state: 'SUCCESS' }, slotMs + 1000).map((d) => d.url)).toEqual([
      'https://hc-ping.com/u1/?k=1',
    ]);
    expect(finishedDeliveries('prod', entry, { ...run, state: 'REVOKED' }, slotMs + 1000)).toEqual([]);
    const late = parseConfig(
      {
        resultBackend: 'redis://127.0.0.1:6379/1',
        beatSchedule: { slow: { task: 't', schedule: 60, alerts: { webhook: 'https://hooks.example/x', on: ['late'], lateAfter: '10s' } } },
      },
      'alerts.test',
    ).entries[0];
    if (late === undefined) throw new Error('no entry');
    const pending = { taskId: 'id-2', slotMs, publishedAtMs: slotMs, state: 'STARTED' };
    expect(lateDeliveries('prod', late, pending, slotMs + 9_999)).toEqual([]);
    expect(lateDeliveries('prod', late, pending, slotMs + 10_000).map((d) => d.id)).toEqual([`late:slow:${slotMs}:webhook`]);
  });

  it('an unconsumed queue makes one webhook alert per stretch (keyed by its first look), no ping, and only for entries that ask', () => {
    const [asks, silent] = parseConfig(
      {
        alerts: { webhook: 'https://hooks.example/x', on: ['missed', 'unconsumed'] },
        beatSchedule: {
          report: { task: 'reports.build', schedule: 60, options: { queue: 'reports' }, alerts: { ping: 'https://hc-ping.com/u2' } },
          other: { task: 't', schedule: 60, alerts: { on: ['missed'] } },
        },
      },
      'alerts.test',
    ).entries;
    if (asks === undefined || silent === undefined) throw new Error('no entries');
    const queue = { queue: 'reports', reason: 'no worker consumes queue reports (4 runs waiting)', sinceMs: slotMs, depth: 4 };
    const deliveries = unconsumedDeliveries('prod', asks, queue, slotMs + 120_000);
    expect(deliveries.map((d) => d.id)).toEqual([`unconsumed:report:${slotMs}:webhook`]);
    expect(JSON.parse(deliveries[0]?.body ?? '')).toMatchObject({
      kind: 'unconsumed',
      entry: 'report',
      count: 4,
      reason:
        "no worker consumes queue reports (4 runs waiting): its runs wait unread; start a worker with -Q reports, or fix the entry's queue",
    });
    expect(unconsumedDeliveries('prod', silent, queue, slotMs + 120_000)).toEqual([]);
  });

  it('backs off 1, 2, 4 s… up to five minutes', () => {
    expect([1, 2, 3, 4, 12, 20].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 300_000, 300_000]);
  });

  it("logs a retried delivery to a Slack webhook with the receiver's scheme and host only, not the secret in its path", async () => {
    const d: Delivery = {
      id: 'missed:nightly:1:webhook',
      url: 'https://hooks.slack.com/services/T0ZZ/B0ZZ/zz-path-secret?token=zz-query-secret',
      body: '{}',
      contentType: 'application/json',
      attempts: 0,
    };
    let given = false;
    const retried: string[] = [];
    const outbox: AlertOutbox = {
      enqueue: async () => 0,
      claim: async () => ({ deliveries: given ? [] : ((given = true), [d]), nextDueMs: undefined }),
      settle: async () => undefined,
      retry: async (x: Delivery) => void retried.push(x.id),
      pending: async () => ({ count: 0, nextDueMs: undefined }),
    };
    let out = '';
    const logger = createLogger({ level: 'info', destination: { write: (t: string) => void (out += t) } });
    const deliverer = new AlertDeliverer({ outbox, logger, now: () => 0, send: async () => 503 });
    deliverer.start();
    for (let i = 0; i < 100 && retried.length === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await deliverer.stop();
    const retry = out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line['event'] === 'beat.alert.retry');
    expect(retry).toMatchObject({ id: d.id, url: 'https://hooks.slack.com/***', failure: 'HTTP 503' });
    expect(out).not.toContain('zz-');
  });

  it('an idle sender looks at the outbox when its first pending delivery is due, and every 30 s with none: not every second, one call a look', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      const looks: number[] = [];
      let dueMs: number | undefined;
      let pendingReads = 0;
      const outbox: AlertOutbox = {
        enqueue: async () => 0,
        claim: async () => {
          looks.push(Math.round(performance.now()));
          // The pending one, once due, is taken (and sent: nothing pending after it).
          if (dueMs !== undefined && dueMs <= Date.now()) dueMs = undefined;
          return { deliveries: [], nextDueMs: dueMs };
        },
        settle: async () => undefined,
        retry: async () => undefined,
        pending: async () => ((pendingReads += 1), { count: dueMs === undefined ? 0 : 1, nextDueMs: dueMs }),
      };
      const deliverer = new AlertDeliverer({
        outbox,
        logger: createLogger({ level: 'silent' }),
        now: () => Date.now(),
        send: async () => 200,
      });
      const origin = Math.round(performance.now());
      deliverer.start();
      await vi.advanceTimersByTimeAsync(61_000);
      expect(looks).toEqual([origin, origin + 30_000, origin + 60_000]);
      // A retry pending 3.5 s on: looked at on the first mark of the grid once it is due, then rested again.
      dueMs = Date.now() + 3500;
      deliverer.poke();
      await vi.advanceTimersByTimeAsync(5000);
      expect(looks.slice(3)).toEqual([origin + 61_000, origin + 65_000]);
      // Nothing taken: the claim's own answer says when to look again, no second read.
      expect(pendingReads).toBe(0);
      await deliverer.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
