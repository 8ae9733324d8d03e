/**
 * Cut-over adoption's decision (src/redis/seed-states.ts): another scheduler's last run wins over
 * tsbeat's stored state only when it is newer by slot (the schedule's next fire after tsbeat's slot
 * is at or before it); the same slot, an older one, or tsbeat's own run written back is a no-op.
 * And what a django row seeds (src/django/adopt.ts), as ModelEntry.__init__ takes its last run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import type { ParsedEntry } from '../../src/config/schema.js';
import { rowSeed } from '../../src/django/adopt.js';
import { openDjangoDb } from '../../src/django/db.js';
import { taskRow } from '../../src/django/row-entry.js';
import { RowShapes } from '../../src/django/row-shapes.js';
import { seedDecision } from '../../src/redis/seed-states.js';
import type { SeedState } from '../../src/redis/seed-states.js';
import type { EntryState } from '../../src/ports/state.js';
/** The config's zone and name the seeds are judged in. */
const UTC = { zone: 'UTC', deployment: 'default' };

function entry(definition: Record<string, unknown>): ParsedEntry {
  const parsed = parseEntryDefinition({ task: 't', ...definition });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.entry;
}

const EVERY_10S = entry({ schedule: { timedelta: { seconds: 10 } } });
const EVERY_MINUTE = entry({ schedule: { crontab: { minute: '*' } } });
const S = Date.parse('2026-11-25T12:00:00Z');

const seed = (lastRunMs: number, more: Partial<SeedState> = {}): SeedState => ({
  name: 'e',
  lastRunMs,
  runCount: 3,
  incarnation: 'd7',
  entry: EVERY_10S,
  ...more,
});
const stored = (slotMs: number | undefined, more: Partial<EntryState> = {}): EntryState => ({
  runCount: 2,
  ...(slotMs === undefined ? {} : { slotMs, publishedAtMs: slotMs + 20 }),
  incarnation: 'd7',
  ...more,
});

describe('seedDecision: whichever last run is newer wins, compared by slot', () => {
  it('writes where tsbeat has no state of the incarnation: none, never run, or another incarnation', () => {
    expect(seedDecision(seed(S), undefined, UTC)).toEqual({ write: 'where-none' });
    expect(seedDecision(seed(S), stored(undefined, { seenMs: S - 5000 }), UTC)).toEqual({ write: 'where-none' });
    // Older or newer is the script's to say (its fence): here only that the stored one is not this one's.
    expect(seedDecision(seed(S + 60_000), stored(S, { incarnation: 'd6' }), UTC)).toEqual({ write: 'where-none' });
  });

  it('keeps an equal or older slot: adopting it is a no-op', () => {
    expect(seedDecision(seed(S), stored(S), UTC)).toEqual({ write: 'keep' });
    expect(seedDecision(seed(S - 10_000), stored(S), UTC)).toEqual({ write: 'keep' });
  });

  it("keeps tsbeat's own run written back (a few ms after its slot), whatever the schedule", () => {
    // The django write-back stamps its clock just after the publish: the same slot.
    expect(seedDecision(seed(S + 35), stored(S), UTC)).toEqual({ write: 'keep' });
    expect(seedDecision(seed(S + 35, { entry: EVERY_MINUTE }), stored(S), UTC)).toEqual({ write: 'keep' });
    // A run at S published 12 s late (past the next fire S + 10 s), written back at its publish time.
    const late = stored(S, { publishedAtMs: S + 12_000 });
    expect(seedDecision(seed(S + 12_040), late, UTC)).toEqual({ write: 'keep' });
  });

  it('replaces a slot when the other scheduler ran the next fire after it, or a later one', () => {
    expect(seedDecision(seed(S + 9_999), stored(S), UTC)).toEqual({ write: 'keep' });
    expect(seedDecision(seed(S + 10_000), stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
    expect(seedDecision(seed(S + 10_300), stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
    expect(seedDecision(seed(S + 95_000), stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
    // A crontab: a run at 12:00:40 is the 12:00 slot's; one at 12:01:02 the 12:01 slot's.
    expect(seedDecision(seed(S + 40_000, { entry: EVERY_MINUTE }), stored(S), UTC)).toEqual({ write: 'keep' });
    expect(seedDecision(seed(S + 62_000, { entry: EVERY_MINUTE }), stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
  });

  it('keeps a run the other scheduler made before tsbeat last published (it published later than its slot)', () => {
    // tsbeat published S at S + 30 s; a run recorded at S + 15 s is older than that publish.
    const late = stored(S, { publishedAtMs: S + 30_000 });
    expect(seedDecision(seed(S + 15_000), late, UTC)).toEqual({ write: 'keep' });
    expect(seedDecision(seed(S + 40_000), late, UTC)).toEqual({ write: 'replace', slotMs: S });
  });

  it("writes a never-run row's anchor where tsbeat has no state of the incarnation, and compares it as a run with a slot", () => {
    const anchor = seed(S + 95_000, { anchor: true });
    expect(seedDecision(anchor, undefined, UTC)).toEqual({ write: 'where-none' });
    expect(seedDecision(anchor, stored(S, { incarnation: 'd6' }), UTC)).toEqual({ write: 'where-none' });
    // date_changed moved since tsbeat's run (a re-enable while no tsbeat ran, or an edit): a run then.
    expect(seedDecision(anchor, stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
    expect(seedDecision(seed(S - 60_000, { anchor: true }), stored(S), UTC)).toEqual({ write: 'keep' });
  });

  it('keeps what it cannot compare (a definition with problems) unless the record resets the last run', () => {
    expect(seedDecision(seed(S + 95_000, { entry: undefined }), stored(S), UTC)).toEqual({ write: 'keep' });
    // A re-enabled django row: its re-enable is its last run, even within the period.
    expect(seedDecision(seed(S + 4000, { reset: true }), stored(S), UTC)).toEqual({ write: 'replace', slotMs: S });
    expect(seedDecision(seed(S - 4000, { reset: true }), stored(S), UTC)).toEqual({ write: 'keep' });
  });

  it('keeps a schedule that ran out under tsbeat (no fire after its slot)', () => {
    const clocked = entry({ schedule: { clocked: '2026-11-25T12:00:00Z' } });
    expect(seedDecision(seed(S + 60_000, { entry: clocked }), stored(S), UTC)).toEqual({ write: 'keep' });
  });
});

describe("a django row's seed, as ModelEntry takes its last run", () => {
  // A pool is made but never used: taskRow only reads the rows' timestamps with it.
  const db = openDjangoDb('postgres://tsbeat@127.0.0.1:1/unused', 'postgres', 'UTC');
  afterAll(() => db.close());
  const columns = (overrides: Record<string, unknown>): Record<string, unknown> => ({
    id: 7,
    name: 'e',
    task: 'app.tasks.report',
    interval_id: 3,
    interval_every: 60,
    interval_period: 'seconds',
    crontab_id: null,
    solar_id: null,
    clocked_id: null,
    args: '[]',
    kwargs: '{}',
    enabled: true,
    one_off: false,
    start_time: null,
    date_changed: '2026-11-25 11:00:00+00',
    last_run_at: '2026-11-25 11:59:52.5+00',
    total_run_count: 4,
    ...overrides,
  });
  const row = (overrides: Record<string, unknown>) => taskRow(columns(overrides), db, new RowShapes());

  it('takes last_run_at, else date_changed, with total_run_count and the row id as incarnation', () => {
    expect(rowSeed(row({}))).toMatchObject({ name: 'e', lastRunMs: S - 7500, runCount: 4, incarnation: 'd7' });
    expect(rowSeed(row({}))?.entry?.schedule).toEqual({ kind: 'interval', everyMs: 60_000 });
    expect(rowSeed(row({}))?.anchor).toBeUndefined();
    // Never run: date_changed anchors the grid, and is no run (a backfill finds the slots before it unpublished).
    expect(rowSeed(row({ last_run_at: null, total_run_count: 0 }))).toMatchObject({ lastRunMs: S - 3_600_000, runCount: 0, anchor: true });
    expect(rowSeed(row({}), true)).toMatchObject({ reset: true });
    expect(rowSeed(row({}))?.reset).toBeUndefined();
    // Re-enabled (save() of the disabled row cleared last_run_at): the re-enable is its last run.
    const reEnabled = rowSeed(row({ last_run_at: null, total_run_count: 0 }), true);
    expect(reEnabled).toMatchObject({ lastRunMs: S - 3_600_000, reset: true });
    expect(reEnabled?.anchor).toBeUndefined();
  });

  it('reads a naive last_run_at as the database zone (USE_TZ False: TIME_ZONE)', () => {
    const berlin = openDjangoDb('mysql://tsbeat@127.0.0.1:1/unused', 'mysql', 'Europe/Berlin');
    try {
      const r = taskRow(
        columns({ date_changed: '2026-11-25 11:00:00', last_run_at: '2026-11-25 12:59:52.500000' }),
        berlin,
        new RowShapes(),
      );
      expect(rowSeed(r)?.lastRunMs).toBe(S - 7500);
    } finally {
      void berlin.close();
    }
  });

  it('seeds nothing of a disabled row, nor of a never-run row with a start_time (tsbeat starts it there)', () => {
    expect(rowSeed(row({ enabled: false }))).toBeUndefined();
    expect(rowSeed(row({ last_run_at: null, start_time: '2026-11-25 13:00:00+00' }))).toBeUndefined();
  });

  it('counts the runs of a one-off row that ran, so that it is finished (maxRuns 1), not run again', () => {
    const once = row({ one_off: true, total_run_count: 1 });
    expect(rowSeed(once)?.runCount).toBe(1);
    expect(rowSeed(once)?.entry?.oneOff).toBe(true);
  });
});
