import { describe, expect, it } from 'vitest';
import { jitterFor, nextFires, planDue, skipThrough } from '../../src/core/schedule.js';
import type { EntryTiming } from '../../src/core/schedule.js';
import { MinHeap } from '../../src/core/heap.js';
import { parseCronLine } from '../../src/core/cron/index.js';

const S = 1000;
const t0 = Date.parse('2026-11-21T06:00:00Z');
const every10s = (catchUp: EntryTiming['catchUp'], catchUpWindowMs?: number): EntryTiming => ({
  schedule: { kind: 'interval', everyMs: 10 * S, relative: false },
  zone: 'UTC',
  catchUp,
  catchUpWindowMs,
});
const opts = { graceMs: 1000, maxSlots: 1000 };

describe('planDue', () => {
  it('waits one full interval for a new interval entry', () => {
    const plan = planDue(every10s('once'), t0, t0 + 9_999, opts);
    expect(plan.slots).toEqual([]);
    expect(plan.nextSlotMs).toBe(t0 + 10 * S);
  });

  it('fires an on-time slot on the fixed grid, whatever the wake-up latency', () => {
    const plan = planDue(every10s('once'), t0, t0 + 10 * S + 7, opts);
    expect(plan).toEqual({ slots: [t0 + 10 * S], missed: 0, missedReason: undefined, cursorMs: t0 + 10 * S, nextSlotMs: t0 + 20 * S });
  });

  it('keeps a 2.5 h relative interval on its grid after a day of downtime (even hours: all replays them, once runs 16:00, next is 18:00)', () => {
    const timing = (catchUp: EntryTiming['catchUp']): EntryTiming => ({
      schedule: { kind: 'interval', everyMs: 9000 * S, relative: true },
      zone: 'UTC',
      catchUp,
      catchUpWindowMs: undefined,
    });
    const noon = Date.parse('2026-03-02T12:00:00Z');
    const now = Date.parse('2026-03-03T17:30:01Z');
    // Hours after noon of the first day: the relative grid steps 2 h (2.5 h truncated to the hour).
    const at = (hh: number): number => noon + (hh - 12) * 3600 * S;
    const all = planDue(timing('all'), noon, now, opts);
    expect(all.slots).toEqual(Array.from({ length: 14 }, (_, i) => at(14 + 2 * i)));
    expect(all.nextSlotMs).toBe(at(42));
    const once = planDue(timing('once'), noon, now, opts);
    expect(once.slots).toEqual([at(40)]);
    expect(once.missed).toBe(13);
    expect(once.nextSlotMs).toBe(at(42));
  });

  it('fires an overdue entry once after downtime with catchUp "once" (Celery)', () => {
    const plan = planDue(every10s('once'), t0, t0 + 105 * S, opts);
    expect(plan.slots).toEqual([t0 + 100 * S]);
    expect(plan.missed).toBe(9);
    expect(plan.missedReason).toBe('catch_up_once');
    expect(plan.nextSlotMs).toBe(t0 + 110 * S);
  });

  it('skips late slots with catchUp "skip" and waits for the next one', () => {
    const plan = planDue(every10s('skip'), t0, t0 + 105 * S, opts);
    expect(plan.slots).toEqual([]);
    expect(plan.missed).toBe(10);
    expect(plan.missedReason).toBe('skip_late');
    expect(plan.cursorMs).toBe(t0 + 100 * S);
    expect(plan.nextSlotMs).toBe(t0 + 110 * S);
  });

  it('still fires an on-time slot with catchUp "skip"', () => {
    expect(planDue(every10s('skip'), t0, t0 + 10 * S + 400, opts).slots).toEqual([t0 + 10 * S]);
  });

  it('replays every missed slot in order with catchUp "all", in bounded batches', () => {
    expect(planDue(every10s('all'), t0, t0 + 105 * S, opts).slots).toEqual(Array.from({ length: 10 }, (_, i) => t0 + (i + 1) * 10 * S));
    const first = planDue(every10s('all'), t0, t0 + 105 * S, { ...opts, maxSlots: 4 });
    expect(first.slots).toEqual([t0 + 10 * S, t0 + 20 * S, t0 + 30 * S, t0 + 40 * S]);
    expect(first.nextSlotMs).toBe(t0 + 50 * S);
    const rest = planDue(every10s('all'), first.cursorMs, t0 + 105 * S, opts);
    expect(rest.slots[0]).toBe(t0 + 50 * S);
    expect(rest.slots).toHaveLength(6);
  });

  it('drops slots older than catchUpWindow and keeps the interval phase', () => {
    const plan = planDue(every10s('all', 35 * S), t0, t0 + 105 * S, opts);
    expect(plan.slots).toEqual([t0 + 80 * S, t0 + 90 * S, t0 + 100 * S]);
    expect(plan.missed).toBe(7);
    expect(plan.missedReason).toBe('outside_window');
    const once = planDue(every10s('once', 35 * S), t0, t0 + 105 * S, opts);
    expect(once.slots).toEqual([t0 + 100 * S]);
    expect(once.missed).toBe(9);
  });

  it('never runs a slot twice when the clock steps backwards', () => {
    const last = t0 + 100 * S;
    const plan = planDue(every10s('all'), last, t0 + 50 * S, opts);
    expect(plan.slots).toEqual([]);
    expect(plan.nextSlotMs).toBe(t0 + 110 * S);
  });

  it('fires a daily crontab once after three days of downtime', () => {
    const timing: EntryTiming = {
      schedule: { kind: 'cron', spec: parseCronLine('0 3 * * *') },
      zone: 'Europe/Berlin',
      catchUp: 'once',
      catchUpWindowMs: undefined,
    };
    const last = Date.parse('2026-11-18T02:00:00Z'); // 03:00 in Berlin on the 18th
    const plan = planDue(timing, last, Date.parse('2026-11-21T12:00:00Z'), opts);
    expect(plan.slots).toEqual([Date.parse('2026-11-21T02:00:00Z')]);
    expect(plan.missed).toBe(2);
    expect(plan.nextSlotMs).toBe(Date.parse('2026-11-22T02:00:00Z'));
  });

  it('plans the same with the next slot given as without it (the runner passes the one it keeps)', () => {
    const daily: EntryTiming = {
      schedule: { kind: 'cron', spec: parseCronLine('0 3 * * *') },
      zone: 'Europe/Berlin',
      catchUp: 'once',
      catchUpWindowMs: undefined,
    };
    const cases: [EntryTiming, number, number][] = [
      [every10s('once'), t0, t0 + 9_999],
      [every10s('once'), t0, t0 + 10 * S + 7],
      [every10s('skip'), t0, t0 + 105 * S],
      [every10s('all'), t0, t0 + 105 * S],
      [every10s('all', 35 * S), t0, t0 + 105 * S],
      [every10s('all'), t0 + 100 * S, t0 + 50 * S],
      [daily, Date.parse('2026-11-18T02:00:00Z'), Date.parse('2026-11-21T12:00:00Z')],
    ];
    for (const [timing, last, now] of cases) {
      const nextSlotMs = nextFires(timing.schedule, { zone: timing.zone, afterMs: last, anchorMs: last }, 1)[0];
      expect(planDue(timing, last, now, { ...opts, nextSlotMs })).toEqual(planDue(timing, last, now, opts));
    }
  });

  it('runs a clocked entry once and then never again', () => {
    const timing: EntryTiming = {
      schedule: { kind: 'clocked', atMs: t0 + 5 * S },
      zone: 'UTC',
      catchUp: 'once',
      catchUpWindowMs: undefined,
    };
    const plan = planDue(timing, t0, t0 + 6 * S, opts);
    expect(plan.slots).toEqual([t0 + 5 * S]);
    expect(plan.nextSlotMs).toBeUndefined();
    expect(planDue(timing, plan.cursorMs, t0 + 60 * S, opts).slots).toEqual([]);
  });

  it('finds the latest slot after a very long downtime without walking every missed slot', () => {
    const timing: EntryTiming = {
      schedule: { kind: 'cron', spec: parseCronLine('* * * * * *') },
      zone: 'UTC',
      catchUp: 'once',
      catchUpWindowMs: undefined,
    };
    const plan = planDue(timing, t0, t0 + 30 * 86_400 * S, opts);
    expect(plan.slots).toEqual([t0 + 30 * 86_400 * S]);
    expect(plan.missed).toBe(10_000); // counted up to the cap
  });
});

describe('nextFires for crontabs asked the same question again', () => {
  it('answers as the first time, whatever a caller did to an earlier answer, and tells zones, counts and specs apart', () => {
    const hourly = parseCronLine('0 * * * *');
    const query = { zone: 'UTC', afterMs: t0 };
    const first = nextFires({ kind: 'cron', spec: hourly }, query, 2);
    expect(first).toEqual([t0 + 3600 * S, t0 + 7200 * S]);
    first.push(1);
    first[0] = 0;
    const again = nextFires({ kind: 'cron', spec: hourly }, query, 2);
    expect(again).toEqual([t0 + 3600 * S, t0 + 7200 * S]);
    again.length = 0;
    expect(nextFires({ kind: 'cron', spec: hourly }, query, 2)).toEqual([t0 + 3600 * S, t0 + 7200 * S]);
    expect(nextFires({ kind: 'cron', spec: hourly }, query, 1)).toEqual([t0 + 3600 * S]);
    // Kathmandu is UTC+5:45: its whole hours fall at :15 UTC.
    expect(nextFires({ kind: 'cron', spec: hourly }, { zone: 'Asia/Kathmandu', afterMs: t0 }, 1)).toEqual([t0 + 15 * 60 * S]);
    expect(nextFires({ kind: 'cron', spec: parseCronLine('30 * * * *') }, query, 1)).toEqual([t0 + 30 * 60 * S]);
    expect(nextFires({ kind: 'cron', spec: hourly }, { zone: 'UTC', afterMs: t0 + 3600 * S }, 1)).toEqual([t0 + 7200 * S]);
  });
});

describe('skipThrough', () => {
  it('skips the slots that passed while an entry was paused, keeping its grid', () => {
    const schedule = { kind: 'interval', everyMs: 10 * S, relative: false } as const;
    expect(skipThrough(schedule, 'UTC', t0, t0 + 95 * S)).toBe(t0 + 90 * S);
    expect(skipThrough(schedule, 'UTC', t0, t0 + 5 * S)).toBe(t0);
    expect(skipThrough(schedule, 'UTC', t0 + 100 * S, t0 + 50 * S)).toBe(t0 + 100 * S);
  });
});

describe('jitterFor', () => {
  it('is deterministic per entry and slot, and within [0, jitter)', () => {
    const values = Array.from({ length: 1000 }, (_, i) => jitterFor('entry', t0 + i * S, 5000));
    expect(values.every((v) => v >= 0 && v < 5000)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(900);
    expect(jitterFor('entry', t0, 5000)).toBe(jitterFor('entry', t0, 5000));
    expect(jitterFor('entry', t0, 0)).toBe(0);
  });
});

describe('MinHeap', () => {
  it('pops in key order and supports re-keying and removal', () => {
    const heap = new MinHeap<{ key: number; heapIndex: number; name: string }>();
    const items = Array.from({ length: 200 }, (_, i) => ({ key: (i * 7919) % 200, heapIndex: -1, name: `n${i}` }));
    items.forEach((item) => heap.push(item));
    heap.update(items[5]!, -1);
    heap.remove(items[6]!);
    heap.update(items[7]!, 1000);
    const popped: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item.key);
    expect(popped).toHaveLength(199);
    expect(popped[0]).toBe(-1);
    expect(popped[popped.length - 1]).toBe(1000);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
  });
});
