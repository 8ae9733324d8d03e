/**
 * The pure parts of backfills: the slots of a range (held to a minute-by-minute walk of the wall
 * clock, read with Intl, not with tsbeat's zone code), the interval grid through the entry's last
 * slot, the check of a requester's fields (each problem naming its field as that requester spells
 * it), and the codecs of the request, its progress and a run's origin.
 */
import { describe, expect, it } from 'vitest';
import { backfillAnchor, backfillSlots } from '../../src/core/backfill-slots.js';
import {
  API_FIELDS,
  CLI_FIELDS,
  checkBackfillInput,
  decodeBackfillProgress,
  decodeBackfillRequest,
  encodeBackfillRequest,
  planFrom,
  planFromSliced,
  progressText,
} from '../../src/control/backfill-request.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { parseCronLine } from '../../src/core/cron/index.js';
import { mergeSpans } from '../../src/core/exclusions.js';
import type { Exclusions } from '../../src/core/exclusions.js';
import { decodeRun, encodeRun } from '../../src/redis/run-history-codec.js';
import { prng } from '../support/prng.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

const formats = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `ms` in `zone`, by Intl: [year-month-day, hour, minute]. */
function wall(ms: number, zone: string): { date: string; hour: number; minute: number } {
  let format = formats.get(zone);
  if (format === undefined) {
    const options = {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    } as const;
    format = new Intl.DateTimeFormat('en-CA', options);
    formats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, p.value]));
  return { date: `${parts['year']}-${parts['month']}-${parts['day']}`, hour: Number(parts['hour']), minute: Number(parts['minute']) };
}

describe('the slots of a backfill', () => {
  // Zones without DST in these years: a wall minute is one instant, so the walk is the whole truth.
  const ZONES = ['UTC', 'Asia/Kolkata', 'America/Phoenix'];
  const random = prng(36);

  it.each(Array.from({ length: 12 }, (_, i) => i))('case %i: every matching minute in [from, to], excluded days apart', (i) => {
    const zone = ZONES[i % ZONES.length] as string;
    const every = [5, 7, 10, 15, 30][Math.floor(random() * 5)] as number;
    const hours = `${Math.floor(random() * 6)}-${18 + Math.floor(random() * 6)}`;
    const spec = parseCronLine(`*/${every} ${hours} * * *`);
    const fromMs = Date.UTC(2026, 0, 1) + Math.floor(random() * 300) * DAY + Math.floor(random() * 1440) * MINUTE;
    const toMs = fromMs + Math.floor(1 + random() * 2) * DAY + Math.floor(random() * 1440) * MINUTE;
    const day = wall(fromMs + DAY, zone).date;
    const [y, m, d] = day.split('-').map(Number) as [number, number, number];
    const start = Date.UTC(y, m - 1, d);
    const exclude: Exclusions = { spans: mergeSpans([[start, start + DAY]]), crons: [], words: [day] };

    const got = backfillSlots({ kind: 'cron', spec }, zone, { exclude }, fromMs, toMs, 100_000);

    const [low, high] = hours.split('-').map(Number) as [number, number];
    const slots: number[] = [];
    const excluded: number[] = [];
    for (let ms = Math.ceil(fromMs / MINUTE) * MINUTE; ms <= toMs; ms += MINUTE) {
      const w = wall(ms, zone);
      if (w.minute % every !== 0 || w.hour < low || w.hour > high) continue;
      (w.date === day ? excluded : slots).push(ms);
    }
    expect(got).toEqual({ slots, excluded, overLimit: false });
  });

  it('stops at the limit (run and excluded slots together) and says so', () => {
    const spec = parseCronLine('* * * * *');
    const got = backfillSlots({ kind: 'cron', spec }, 'UTC', undefined, 0, 10 * MINUTE, 5);
    expect(got).toEqual({ slots: [0, MINUTE, 2 * MINUTE, 3 * MINUTE, 4 * MINUTE], excluded: [], overLimit: true });
    expect(backfillSlots({ kind: 'cron', spec }, 'UTC', undefined, 0, 4 * MINUTE, 5).overLimit).toBe(false);
  });

  it("an interval's slots are on the grid through the entry's last slot, however far back the range starts", () => {
    const schedule = { kind: 'interval' as const, everyMs: 7 * MINUTE, relative: false };
    const stored = Date.UTC(2026, 10, 20, 12, 3);
    const fromMs = stored - 3 * DAY - 11 * MINUTE;
    const anchor = backfillAnchor(schedule, fromMs, stored);
    const got = backfillSlots(schedule, 'UTC', undefined, fromMs, stored, 100_000, anchor);
    expect(got.slots.length).toBeGreaterThan(600);
    for (const slot of got.slots) expect((stored - slot) % (7 * MINUTE)).toBe(0);
    expect(got.slots[got.slots.length - 1]).toBe(stored);
    expect(got.slots[0]).toBeGreaterThanOrEqual(fromMs);
    expect((got.slots[0] as number) - 7 * MINUTE).toBeLessThan(fromMs);
    // Without a stored slot the grid starts at --from.
    expect(backfillSlots(schedule, 'UTC', undefined, fromMs, fromMs + DAY, 10, backfillAnchor(schedule, fromMs, undefined)).slots[0]).toBe(
      fromMs,
    );
  });
});

describe("a requester's fields", () => {
  const ok = { from: '2026-11-20T00:00:00Z', to: '2026-11-21T00:00:00+01:00' };

  it('takes a range with offsets, the default limit and no options', () => {
    expect(checkBackfillInput(ok, API_FIELDS)).toEqual({
      input: { fromMs: Date.UTC(2026, 10, 20), toMs: Date.UTC(2026, 10, 20, 23), limit: 10_000, dryRun: false, unrecorded: false },
    });
  });

  it.each([
    [{ ...ok, to: '2026-11-19T00:00:00Z' }, 'to', '--to', /is before/],
    [{ ...ok, from: '2026-11-20' }, 'from', '--from', /ISO-8601 instant with an offset/],
    [{ ...ok, from: '2026-02-30T00:00:00Z' }, 'from', '--from', /not a real date/],
    [{ to: ok.to }, 'from', '--from', /is required/],
    [{ ...ok, limit: '0' }, 'limit', '--limit', /whole number from 1 to 1000000/],
    [{ ...ok, limit: 2_000_000 }, 'limit', '--limit', /whole number/],
    [{ ...ok, dryRun: 'yes' }, 'dryRun', '--dry-run', /true or false/],
    [{ ...ok, note: 'two\nlines' }, 'note', '--note', /one line/],
  ])('%j: a problem at its field', (raw, apiField, cliField, message) => {
    for (const [names, field] of [
      [API_FIELDS, apiField],
      [CLI_FIELDS, cliField],
    ] as const) {
      const checked = checkBackfillInput(raw, names);
      expect(checked.problems).toHaveLength(1);
      expect(checked.problems?.[0]).toMatchObject({ path: field, message: expect.stringMatching(message) as unknown });
      expect(checked.problems?.[0]?.message.startsWith(field)).toBe(true);
    }
  });
});

describe('codecs', () => {
  it('a request round-trips; anything else reads as none', () => {
    const request = { id: 'r1', entry: 'nightly', fromMs: 1, toMs: 2, limit: 3, anchorMs: -5, unrecorded: true, at: 4, note: 'why' };
    expect(decodeBackfillRequest(encodeBackfillRequest(request))).toEqual(request);
    const bare = { id: 'r2', entry: 'e', fromMs: 1, toMs: 2, limit: 3, unrecorded: false, at: 4 };
    expect(decodeBackfillRequest(encodeBackfillRequest(bare))).toEqual(bare);
    for (const bad of ['', 'null', '{"id":1}', '{"id":"x","entry":"e","from":"1","to":2,"limit":3,"at":4}'])
      expect(decodeBackfillRequest(bad)).toBeUndefined();
  });

  it('progress: counts, then the summary a person reads', () => {
    const p = decodeBackfillProgress({
      published: '12',
      recorded: '2',
      excluded: '1',
      ahead: '0',
      unrecorded: '0',
      through: '99',
      total: '15',
      done: '7',
    });
    expect(p).toEqual({
      published: 12,
      recorded: 2,
      ahead: 0,
      unrecorded: 0,
      excluded: 1,
      overlap: 0,
      total: 15,
      throughMs: 99,
      doneMs: 7,
    });
    expect(progressText(p!)).toBe('published 12, skipped 3 (2 already published, 1 excluded)');
    // A paced policy's place: the slot it published last, bufferOne's kept slot, the slots it held.
    const paced = decodeBackfillProgress({ published: '1', overlap: '4', kept: '1', last: '42', through: '50' });
    expect(paced).toMatchObject({ published: 1, overlap: 4, kept: true, lastMs: 42, throughMs: 50 });
    expect(progressText(paced!)).toBe('published 1, skipped 4 (4 by the overlap policy, still passed over (see --overlap allowAll))');
    expect(decodeBackfillProgress({})).toBeUndefined();
  });

  it("a run's origin is kept; absent (older records) and unknown values read as the schedule's", () => {
    const run = { taskId: 't', slotMs: 1, publishedAtMs: 2, state: 'PENDING' as const };
    expect(decodeRun(encodeRun({ ...run, origin: 'backfill' }))).toEqual({ ...run, origin: 'backfill' });
    expect(decodeRun(encodeRun({ ...run, origin: 'trigger' }))).toEqual({ ...run, origin: 'trigger' });
    expect(decodeRun(encodeRun(run))).toEqual(run);
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"PENDING","origin":"carrier-pigeon"}')).toEqual(run);
  });
});

describe('the leader plans a backfill in pages (planFromSliced)', () => {
  const entryOf = (definition: Record<string, unknown>): ResolvedEntry => {
    const parsed = parseEntryDefinition({ task: 't.b', ...definition });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    return resolveEntry('b', parsed.entry, { zone: 'UTC', deployment: 'default' }, 'store');
  };
  const FROM = Date.parse('2026-01-01T00:00:00Z');
  const cases: [string, Record<string, unknown>, number, number][] = [
    ['every second, 25,000 slots within the limit', { schedule: 1 }, 25_000 * 1000 - 1, 30_000],
    ['every second, over the limit by one', { schedule: 1 }, 25_000 * 1000, 25_000],
    ['at the limit exactly, on a page boundary', { schedule: 1 }, 3000 * 1000 - 1, 3000],
    ['a crontab with exclusions', { schedule: { cron: '*/5 * * * *' }, exclude: ['* 0-5 * * *'] }, 40 * 86_400_000, 20_000],
    ['fewer slots than a page', { schedule: 3600 }, 86_400_000, 1000],
  ];
  it.each(cases)('%s: the same plan as in one piece, with turns of the loop between pages', async (_, definition, spanMs, limit) => {
    const entry = entryOf(definition);
    const range = { fromMs: FROM, toMs: FROM + spanMs, limit };
    const anchorMs = FROM - 1000;
    // A turn of the loop counted by an immediate that queues itself again: one per turn.
    let turns = 0;
    let counting = true;
    const tick = (): void => {
      turns += 1;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const sliced = await planFromSliced(entry, range, anchorMs);
    counting = false;
    expect(sliced).toEqual(planFrom(entry, range, anchorMs));
    const pages = Math.ceil((sliced.slots.length + sliced.excluded.length) / DEFAULTS.backfillDryRunPage);
    expect(turns).toBeGreaterThanOrEqual(pages - 1);
  });
});
