/**
 * Issue 54 through the built CLI: a relative hourly interval in Australia/Lord_Howe on the night DST
 * ends (2025-04-06, clocks back 30 minutes at 02:00+11:00) used to repeat 01:00+11:00 for ever:
 * `beat next` printed it three times, `beat run` spun at 100 % CPU and ignored SIGTERM. And a
 * schedule whose next run cannot be computed within its step budget (base/step-budget.ts) is failed
 * alone while the others keep their slots, and named by `beat next`.
 *
 * `beat run --dry-run` needs no Redis (nothing listens on the broker URL's port); its wall clock is
 * put at 2025-04-05T13:59:50Z by libfaketime (test/support/faketime.ts), the monotonic clock left alone.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { FAKETIME_HINT, libfaketime } from '../support/faketime.js';
import { spawnCli } from '../support/cli.js';

const fleet = new BeatFleet();
const dir = new TempDir();
const ZONE = 'Australia/Lord_Howe';
/** A never-firing-in-practice rule: periods of 99,999 s that must start at midnight on a Monday February 29th. */
const RARE = 'FREQ=SECONDLY;INTERVAL=99999;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0';

function config(name: string, beatSchedule: Record<string, unknown>): string {
  // Port 1: nothing listens, and a dry run never connects.
  return dir.write(`${name}.json`, { name, timezone: ZONE, broker: { url: 'redis://127.0.0.1:1/0' }, maxInterval: '200ms', beatSchedule });
}

interface DryMessage {
  readonly entry: string;
  readonly scheduledAt: string;
}

const slotsOf = (p: BeatProcess, entry: string): number[] =>
  (p.outputLines as DryMessage[]).filter((m) => m.entry === entry).map((m) => Date.parse(m.scheduledAt));

/** SIGTERM is honoured within 5 s, whatever a computation is doing. */
async function stopsWithin5s(p: BeatProcess): Promise<void> {
  p.signal('SIGTERM');
  const started = Date.now();
  expect(await p.waitForExit(5000), p.tail()).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(5000);
}

/** Every slot one second after the one before, from the first to the last. */
function everySecond(slots: readonly number[]): void {
  for (let i = 1; i < slots.length; i++) expect((slots[i] as number) - (slots[i - 1] as number), `slot ${i}`).toBe(1000);
}

afterEach(async () => {
  await fleet.killAll();
});

afterAll(() => {
  dir.remove();
});

describe('a relative hourly interval across Lord Howe’s 30-minute fall-back', () => {
  it('beat next --after 2025-04-05T12:30:00Z --count 4 prints 4 distinct, increasing slots (3,600 and 3,601 s)', () => {
    const file = config('next', {
      hourly: { task: 't.hourly', schedule: 3600, relative: true },
      odd: { task: 't.odd', schedule: 3601, relative: true },
    });
    const r = spawnCli(['next', '--config', file, '--after', '2025-04-05T12:30:00Z', '--count', '4']);
    expect(r.code, r.stderr).toBe(0);
    const expected = ['2025-04-06T00:00:00+11:00', '2025-04-06T01:00:00+11:00', '2025-04-06T02:00:00+10:30', '2025-04-06T03:00:00+10:30'];
    expect(r.stdout).toBe(
      [
        `hourly  t.hourly  [${ZONE}]`,
        ...expected.map((s) => `  ${s}`),
        '',
        `odd  t.odd  [${ZONE}]`,
        ...expected.map((s) => `  ${s}`),
        '',
      ].join('\n'),
    );
  });

  it('beat run --dry-run from 2025-04-05T13:59:50Z: fires 01:00+11:00 once and goes on; a 1-second entry beside it keeps every slot; SIGTERM within 5 s', async () => {
    const lib = libfaketime();
    if (lib === undefined) throw new Error(FAKETIME_HINT);
    const p = fleet.spawn({
      config: config('run', { hourly: { task: 't.hourly', schedule: 3600, relative: true }, probe: { task: 't.probe', schedule: 1 } }),
      args: ['--dry-run'],
      env: { LD_PRELOAD: lib, FAKETIME: '@2025-04-05 13:59:50', FAKETIME_DONT_FAKE_MONOTONIC: '1', TZ: 'UTC' },
    });
    // Past 14:00:00Z (01:00+11:00) by five seconds of the probe's slots.
    await waitUntil(
      'the probe five seconds past 01:00+11:00',
      () => (slotsOf(p, 'probe').some((ms) => ms >= Date.parse('2025-04-05T14:00:05Z')) ? true : undefined),
      30_000,
      () => p.tail(),
    );
    await stopsWithin5s(p);
    expect(slotsOf(p, 'hourly')).toEqual([Date.parse('2025-04-05T14:00:00Z')]);
    const probe = slotsOf(p, 'probe');
    expect(probe[0]).toBeLessThan(Date.parse('2025-04-05T14:00:00Z'));
    everySecond(probe);
    expect(p.events('beat.entry.failing')).toEqual([]);
  });
});

describe('a schedule whose next run cannot be computed within its step budget', () => {
  it('beat run --dry-run fails that entry alone with its reason while a 1-second entry beside it keeps every slot; SIGTERM within 5 s', async () => {
    const p = fleet.spawn({
      config: config('budget', { rare: { task: 't.rare', schedule: { rrule: RARE } }, probe: { task: 't.probe', schedule: 1 } }),
      args: ['--dry-run'],
    });
    await waitUntil(
      'six probe slots',
      () => (slotsOf(p, 'probe').length >= 6 ? true : undefined),
      30_000,
      () => p.tail(),
    );
    await stopsWithin5s(p);
    const failing = p.events('beat.entry.failing');
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatchObject({ entry: 'rare', task: 't.rare', code: 'SCHEDULE_BUDGET' });
    expect(String(failing[0]?.['reason'])).toContain('took more than 25,000 steps');
    expect(slotsOf(p, 'rare')).toEqual([]);
    everySecond(slotsOf(p, 'probe'));
  });

  it('beat next finishes, names the entry with its reason on stderr and lists the others (exit 2)', () => {
    const file = config('next-budget', {
      rare: { task: 't.rare', schedule: { rrule: RARE } },
      hourly: { task: 't.hourly', schedule: 3600 },
    });
    // A terminal wide enough for the whole reason on one line (at 100 columns it wraps).
    const r = spawnCli(['next', '--config', file, '--after', '2025-04-05T12:30:00Z', '--count', '2'], { env: { COLUMNS: '400' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^beat next: entry "rare": computing the next runs of .*took more than 25,000 steps.*\(SCHEDULE_BUDGET\)$/m);
    expect(r.stdout).toContain(`hourly  t.hourly  [${ZONE}]\n  2025-04-06T00:30:00+11:00\n  2025-04-06T01:30:00+11:00`);
    expect(r.stdout).toContain('rare  t.rare  [Australia/Lord_Howe]\n  (cannot be computed: ');
  });
});
