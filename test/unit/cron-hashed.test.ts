/**
 * Jenkins' hashed cron (`H`) and `spread`: the hash pinned (a release that changed it would move
 * every hashed entry of every deployment), Jenkins' field rules, the spread of 10,000 `H H * * *`
 * entries over the day, the refusals at check, and the resolved times every reader sees.
 */
import { describe, expect, it } from 'vitest';
import {
  CronParseError,
  checkHashedLine,
  describeCron,
  hashDrawOf,
  isHashedLine,
  parseHashedLine,
  resolveHashedLine,
  stableHash,
} from '../../src/core/cron/index.js';
import { describeSchedule, nextFires, planDue } from '../../src/core/schedule.js';
import { spreadOffsetMs } from '../../src/core/spread.js';
import { parseConfig } from '../../src/config/load.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseCrontab } from '../../src/importers/crontab-lines.js';
import { problemsOf } from '../support/config-problems.js';

const prod = hashDrawOf('prod', 'nightly');

describe('the hash (pinned: changing it moves every hashed entry)', () => {
  it('is the first four bytes of SHA-256, big-endian', () => {
    // sha256("") = e3b0c442…: 0xe3b0c442.
    expect(stableHash('')).toBe(0xe3b0c442);
    expect(stableHash('prod\u0000nightly\u0000minute\u00000')).toBe(63_313_298);
  });

  it('gives entry "nightly" of deployment "prod" the same times in every version', () => {
    expect(resolveHashedLine('H H * * *', prod)).toBe('38 10 * * *');
    expect(resolveHashedLine('H/15 * * * *', prod)).toBe('8-59/15 * * * *');
    expect(resolveHashedLine('H(0-29)/10 * * * *', prod)).toBe('8-29/10 * * * *');
    expect(resolveHashedLine('H H H H *', prod)).toBe('38 10 27 10 *');
    expect(resolveHashedLine('H H * * H', prod)).toBe('38 10 * * 4');
    expect(resolveHashedLine('H H(0-7) * * 1-5', prod)).toBe('38 2 * * 1-5');
    expect(spreadOffsetMs('prod', 'nightly', 600_000)).toBe(494_000);
  });

  it('moves when the deployment or the entry is renamed', () => {
    expect(resolveHashedLine('H H * * *', hashDrawOf('staging', 'nightly'))).toBe('22 6 * * *');
    expect(resolveHashedLine('H H * * *', hashDrawOf('prod', 'nightly2'))).toBe('8 18 * * *');
  });
});

describe("Jenkins' rules for H", () => {
  const names = Array.from({ length: 2000 }, (_, i) => hashDrawOf('d', `job-${i}`));
  const values = (line: string, field: number): Set<number> =>
    new Set(names.map((draw) => Number(resolveHashedLine(line, draw).split(' ')[field])));

  it('picks day-of-month from 1-28 and day-of-week from 0-6, each value of the range', () => {
    expect([...values('0 0 H * *', 2)].sort((a, b) => a - b)).toEqual(Array.from({ length: 28 }, (_, i) => i + 1));
    expect([...values('0 0 * * H', 4)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([...values('H 0 * * *', 0)].length).toBe(60);
  });

  it('keeps H(a-b) inside a-b and starts H/n below n, stepping to the end of the range', () => {
    for (const v of values('H(10-14) * * * *', 0)) expect(v >= 10 && v <= 14).toBe(true);
    for (const draw of names.slice(0, 200)) {
      const [minute] = resolveHashedLine('H/15 * * * *', draw).split(' ');
      expect(minute).toMatch(/^(\d+)-59\/15$/);
      expect(Number(minute?.split('-')[0])).toBeLessThan(15);
      expect(resolveHashedLine('0 0 H/3 * *', draw).split(' ')[2]).toMatch(/^[123]-28\/3$/);
    }
  });

  it('reads H/1 as H (one value), as Jenkins does, and draws each H of a list on its own', () => {
    expect(resolveHashedLine('H/1 * * * *', prod)).toBe('38 * * * *');
    expect(resolveHashedLine('H,H(30-59) * * * *', prod)).toBe('38,30 * * * *');
  });

  it('leaves lines without H and nicknames alone', () => {
    expect(isHashedLine('0 0 * * *')).toBe(false);
    expect(isHashedLine('@hourly')).toBe(false);
    expect(isHashedLine('H * * * *')).toBe(true);
    expect(isHashedLine('0 0 * * MON,H')).toBe(true);
  });

  it('refuses a malformed H, naming the field, the value and the fix', () => {
    const message = (line: string): string => {
      try {
        checkHashedLine(line);
      } catch (error) {
        if (error instanceof CronParseError) return error.message;
        throw error;
      }
      throw new Error(`expected ${line} to be refused`);
    };
    expect(message('H(0-99) * * * *')).toBe('minute field "H(0-99)": 99 is out of range 0-59');
    expect(message('H(30-10) * * * *')).toBe('minute field "H(30-10)": range 30-10 goes backwards; H(a-b) needs a <= b');
    expect(message('H/90 * * * *')).toBe('minute field "H/90": step 90 is out of range 1-60');
    expect(message('0 Hx * * *')).toBe(`hour field "Hx": H is written H, H(a-b), H/n or H(a-b)/n (Jenkins' hashed value)`);
    // February has no 30th: a hash that picked it would never run, so no name may.
    expect(message('H H 30 H *')).toBe('can never run: February has no day 30');
  });
});

describe('10,000 entries at H H * * *', () => {
  it('fall into the 1,440 minutes of a day near-uniformly: no minute holds more than 3x the mean', () => {
    const counts = new Array<number>(1440).fill(0);
    for (let i = 0; i < 10_000; i += 1) {
      const spec = parseHashedLine('H H * * *', hashDrawOf('prod', `tenant-${i}.nightly`));
      const minute = (spec.hours[0] as number) * 60 + (spec.minutes[0] as number);
      counts[minute] = (counts[minute] ?? 0) + 1;
    }
    const mean = 10_000 / 1440;
    expect(Math.max(...counts)).toBeLessThanOrEqual(3 * mean);
    // And every hour of the day takes its share, within a quarter of it.
    for (let h = 0; h < 24; h += 1) {
      const inHour = counts.slice(h * 60, h * 60 + 60).reduce((a, b) => a + b, 0);
      expect(Math.abs(inHour - 10_000 / 24)).toBeLessThan(10_000 / 24 / 4);
    }
  });
});

describe('H and spread in a config', () => {
  const config = (name: string, entry: object) => parseConfig({ name, beatSchedule: { nightly: { task: 'a.b', ...entry } } }, 'test');

  it("resolves H with the deployment's and the entry's names; every reader sees real times", () => {
    const entry = config('prod', { schedule: { cron: 'H H * * *' } }).entries[0];
    if (entry?.schedule.kind !== 'cron') throw new Error('expected a cron entry');
    expect(entry.schedule.spec.source).toBe('38 10 * * *');
    expect(describeCron(entry.schedule.spec)).toBe('at 10:38 every day (38 10 * * *, hashed from H H * * *)');
    const after = Date.parse('2027-03-01T00:00:00Z');
    expect(nextFires(entry.schedule, { zone: 'UTC', afterMs: after }, 2).map((ms) => new Date(ms).toISOString())).toEqual([
      '2027-03-01T10:38:00.000Z',
      '2027-03-02T10:38:00.000Z',
    ]);
    const other = config('staging', { schedule: { cron: 'H H * * *' } }).entries[0];
    expect(other?.schedule.kind === 'cron' && other.schedule.spec.source).toBe('22 6 * * *');
  });

  it('moves every slot of a spread entry by its offset: next runs, the due plan and the words', () => {
    const entry = config('prod', { schedule: { cron: '0 0 * * *' }, spread: '10m' }).entries[0];
    if (entry === undefined) throw new Error('expected an entry');
    expect(entry.schedule.offsetMs).toBe(494_000);
    const after = Date.parse('2027-03-01T00:00:00Z');
    const fires = nextFires(entry.schedule, { zone: 'UTC', afterMs: after }, 2);
    expect(fires.map((ms) => new Date(ms).toISOString())).toEqual(['2027-03-01T00:08:14.000Z', '2027-03-02T00:08:14.000Z']);
    expect(describeSchedule(entry.schedule, 'UTC')).toBe('at 00:00 every day, each run 8 min 14 s later (spread)');
    // Due at the moved slot, not before; the cursor is the moved slot, so it runs once a day.
    const timing = { schedule: entry.schedule, zone: 'UTC', catchUp: 'once' as const, catchUpWindowMs: undefined };
    const options = { graceMs: 1000, maxSlots: 10 };
    expect(planDue(timing, after, (fires[0] as number) - 1, options).slots).toEqual([]);
    const due = planDue(timing, after, fires[0] as number, options);
    expect(due.slots).toEqual([fires[0]]);
    expect(due.nextSlotMs).toBe(fires[1]);
  });

  it('refuses H in a Celery crontab, naming the field and the fix', () => {
    expect(problemsOf({ beatSchedule: { n: { task: 'a.b', schedule: { crontab: { minute: 'H', hour: 3 } } } } })).toEqual([
      `beatSchedule.n.schedule.crontab.minute: "H" is Jenkins' hashed value, which a Celery crontab has no field for; write the schedule as a crontab line, such as { cron: "H H * * *" }`,
    ]);
  });

  it('refuses H where no entry name seeds it: in an exclusion', () => {
    const problems = problemsOf({ beatSchedule: { n: { task: 'a.b', schedule: 3600, exclude: [{ cron: 'H 3 * * *' }] } } });
    expect(problems.join('\n')).toContain(`minute field "H": H (Jenkins' hashed value) is taken in an entry's own \`cron\` schedule only`);
  });

  it('refuses a spread not shorter than the shortest period, and on a plain interval', () => {
    expect(problemsOf({ beatSchedule: { n: { task: 'a.b', schedule: { cron: 'H/15 * * * *' }, spread: '15m' } } })).toEqual([
      "beatSchedule.n.spread: spread 900 s is not shorter than the schedule's shortest period, 900 s: a run would move past the next one's time; make spread shorter than 900 s",
    ]);
    expect(problemsOf({ beatSchedule: { n: { task: 'a.b', schedule: 3600, spread: '10m' } } })).toEqual([
      `beatSchedule.n.spread: an interval's runs follow its first run, not the clock, so spread would not move them: leave spread out, or write the schedule as a crontab line with H (such as { cron: "H * * * *" })`,
    ]);
    expect(parseEntryDefinition({ task: 'a.b', schedule: { cron: '0 0 * * *' }, spread: '23h' }).ok).toBe(true);
  });
});

describe('crontab import', () => {
  it('keeps a Jenkins-style H line as H, for the entry to resolve with its own name', () => {
    const parsed = parseCrontab('H H(0-5) * * * /usr/bin/backup\n', false);
    expect(parsed.problems).toEqual([]);
    expect(parsed.jobs.map((j) => j.schedule)).toEqual(['H H(0-5) * * *']);
  });
});
