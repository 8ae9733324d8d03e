/**
 * Several specs per entry (issue 71): one entry whose schedule lists several forms fires at the
 * union of their instants, one state and policy; what a list may hold and what is refused. The
 * union against a brute-force reference on 10,000 random cases is in schedule-union-cases-*.test.ts
 * (test/support/union-cases.ts).
 */
import { describe, expect, it } from 'vitest';
import { currentEntryLimits, parseEntryDefinition, setEntryLimits } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { describeSchedule, nextFires, planDue } from '../../src/core/schedule.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { problemsOf } from '../support/config-problems.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** One entry `e` with this schedule, in Europe/Berlin. */
const berlin = (schedule: unknown): ResolvedEntry =>
  parseConfig({ timezone: 'Europe/Berlin', beatSchedule: { e: { task: 't', schedule } } }, 'test').entries[0] as ResolvedEntry;
const refused = (schedule: unknown): string[] => problemsOf({ beatSchedule: { e: { task: 't', schedule } } });
const WEEKDAYS_AND_WEEKENDS = [{ cron: '0 9 * * mon-fri' }, { crontab: { minute: 0, hour: 12, dayOfWeek: 'sat,sun' } }];

describe('several specs per entry', () => {
  it('weekdays at 09:00 and weekends at 12:00 are one entry, described spec by spec', () => {
    const entry = berlin(WEEKDAYS_AND_WEEKENDS);
    expect(entry.schedule.kind).toBe('union');
    expect(describeSchedule(entry.schedule, entry.timezone)).toMatchInlineSnapshot(`"at 09:00 on Mon–Fri; at 12:00 on Sat and Sun"`);
    // Friday 2026-11-27 to Monday 2026-11-30, Berlin (UTC+1).
    const fires = nextFires(entry.schedule, { zone: entry.timezone, afterMs: Date.UTC(2026, 10, 27, 0) }, 4);
    expect(fires.map((t) => new Date(t).toISOString())).toEqual([
      '2026-11-27T08:00:00.000Z',
      '2026-11-28T11:00:00.000Z',
      '2026-11-29T11:00:00.000Z',
      '2026-11-30T08:00:00.000Z',
    ]);
  });

  it('two specs that fire at the same instant make one run, once due', () => {
    const entry = berlin([{ cron: '0 9 * * *' }, { cron: '0 9 * * mon-fri' }, { cron: '0 9 27 11 *' }]);
    const nine = Date.UTC(2026, 10, 27, 8);
    const plan = planDue(
      { schedule: entry.schedule, zone: entry.timezone, catchUp: 'all', catchUpWindowMs: undefined },
      nine - HOUR,
      nine + 1000,
      {
        graceMs: 2000,
        maxSlots: 100,
      },
    );
    expect(plan.slots).toEqual([nine]);
    expect(plan.nextSlotMs).toBe(nine + DAY);
  });

  it('an interval in a list runs on its grid from 1970, whichever spec ran last', () => {
    const entry = berlin([{ timedelta: { minutes: 90 } }, { cron: '10 * * * *' }]);
    const after = Date.UTC(2026, 10, 27, 0, 0);
    const fromCron = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs: after + 10 * 60_000 }, 4);
    const fromOld = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs: 12_345 }, 4);
    expect(fromCron).toEqual(fromOld);
    expect(fromCron.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual(['00:10', '01:10', '01:30', '02:10']);
  });

  it('a list of one is the plain form', () => {
    expect(berlin([{ cron: '0 9 * * *' }]).schedule).toEqual(berlin({ cron: '0 9 * * *' }).schedule);
    expect(berlin([300]).schedule).toEqual(berlin(300).schedule);
  });

  it('refuses an empty list, naming the place and the fix', () => {
    expect(refused([])).toEqual([
      'beatSchedule.e.schedule: an empty list of schedules never fires: give at least one schedule, or remove the entry',
    ]);
  });

  it(`refuses a list of more than entryLimits.maxSpecs (default ${DEFAULTS.maxSpecs}) specs, naming the setting`, () => {
    const many = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *` }));
    expect(berlin(many(DEFAULTS.maxSpecs)).schedule.kind).toBe('union');
    expect(refused(many(DEFAULTS.maxSpecs + 1))).toEqual([
      `beatSchedule.e.schedule: a schedule may list at most ${DEFAULTS.maxSpecs} specs (entryLimits.maxSpecs), got ${DEFAULTS.maxSpecs + 1}: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to ${DEFAULTS.maxSpecsCeiling})`,
    ]);
    // The setting lowers and raises it, up to its ceiling.
    const withMax = (maxSpecs: number, n: number): unknown => ({
      entryLimits: { maxSpecs },
      beatSchedule: { e: { task: 't', schedule: many(n) } },
    });
    expect(problemsOf(withMax(2, 3))).toEqual([
      'beatSchedule.e.schedule: a schedule may list at most 2 specs (entryLimits.maxSpecs), got 3: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to 256)',
    ]);
    expect(parseConfig(withMax(40, 40), 'test').entries[0]?.schedule.kind).toBe('union');
    expect(problemsOf(withMax(DEFAULTS.maxSpecsCeiling, DEFAULTS.maxSpecsCeiling + 1))).toEqual([
      'beatSchedule.e.schedule: a schedule may list at most 256 specs (entryLimits.maxSpecs), got 257: split the entry, or say the instants with one rrule',
    ]);
    for (const bad of [0, 2.5, DEFAULTS.maxSpecsCeiling + 1, '4']) {
      expect(problemsOf({ entryLimits: { maxSpecs: bad }, beatSchedule: {} })).toEqual([
        'entryLimits.maxSpecs: entryLimits.maxSpecs must be a whole number of specs from 1 to 256',
      ]);
    }
  });

  it('refuses a runtime entry whose list is longer than the limits set (setEntryLimits), at its schedule', () => {
    const before = currentEntryLimits();
    try {
      setEntryLimits({ ...before, maxSpecs: 2 });
      const three = { task: 't', schedule: [{ cron: '0 9 * * *' }, { cron: '0 12 * * *' }, { cron: '0 15 * * *' }] };
      expect(parseEntryDefinition(three)).toEqual({
        ok: false,
        problems: [
          {
            path: 'schedule',
            message:
              'a schedule may list at most 2 specs (entryLimits.maxSpecs), got 3: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to 256)',
          },
        ],
      });
      setEntryLimits({ ...before, maxSpecs: 3 });
      expect(parseEntryDefinition(three).ok).toBe(true);
    } finally {
      setEntryLimits(before);
    }
  });

  it('refuses a spec that never fires at its index, so a union that never fires is refused', () => {
    expect(refused([{ cron: '0 9 30 2 *' }, { rrule: { freq: 'yearly', bymonth: 2, bymonthday: 30 } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[0].cron: can never run: February has no day 30",
        "beatSchedule.e.schedule[1].rrule: this rule never fires, or less often than once in 100 years (check its by… parts against each other, and against interval and dtstart)",
      ]
    `);
    expect(refused([{ cron: '0 9 * * *' }, { crontab: { dayOfMonth: 31, monthOfYear: 'feb' } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1].crontab.dayOfMonth: can never run: February has no day 31",
      ]
    `);
  });

  it('refuses a bad spec in a list at its index, and what is no list and no schedule as before', () => {
    expect(refused([{ cron: '0 9 * * *' }, 'daily'])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1]: expected a number of seconds, an object with one of: timedelta, crontab, cron, solar, clocked, rrule, or a list of them",
      ]
    `);
    expect(refused([{ cron: '0 9 * * *' }, { cron: '0 9 * * *', crontab: { hour: 9 } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1]: give only one of crontab, cron; a schedule has exactly one form",
      ]
    `);
    expect(refused('daily')).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule: expected a number of seconds, an object with one of: timedelta, crontab, cron, solar, clocked, rrule, or a list of them",
      ]
    `);
  });

  it('refuses relative: true with an interval in a list, pointing to a cron line', () => {
    expect(
      problemsOf({ beatSchedule: { e: { task: 't', relative: true, schedule: [{ timedelta: { hours: 2 } }, { cron: '0 9 * * *' }] } } }),
    ).toEqual([
      'beatSchedule.e.relative: relative: true truncates an interval to its unit, which an interval in a list of schedules cannot be: say the instants with a cron line instead ({ cron: "0 */2 * * *" } for every 2 hours on the hour), or drop relative',
    ]);
    expect(
      parseConfig({ beatSchedule: { e: { task: 't', relative: true, schedule: [{ cron: '0 9 * * *' }, { cron: '0 12 * * *' }] } } }, 'test')
        .entries[0]?.schedule.kind,
    ).toBe('union');
  });
});
