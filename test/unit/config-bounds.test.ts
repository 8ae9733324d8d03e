import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { problemsOf } from '../support/config-problems.js';

const entries = (schedules: Record<string, unknown>) => ({
  beatSchedule: Object.fromEntries(Object.entries(schedules).map(([name, schedule]) => [name, { task: 't', schedule }])),
});

const YEARS_100_S = 36_525 * 86_400;

describe('config bounds', () => {
  it('refuses intervals outside 0.1 s - 100 years (a busy loop, or instants past year 9999), NaN and Infinity included', () => {
    expect(
      problemsOf(
        entries({
          huge: 1e308,
          tiny: 0.0001,
          far: 1e15,
          zero: 0,
          negative: -3,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          justUnder: 0.0999,
          justOver: YEARS_100_S + 0.001,
          tdLong: { timedelta: { days: 36_526 } },
          tdEndless: { timedelta: { weeks: 1e308, days: 1e308 } },
          tdShort: { timedelta: { milliseconds: 99 } },
        }),
      ),
    ).toEqual([
      'beatSchedule.huge.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 1e+308',
      'beatSchedule.tiny.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0.0001',
      'beatSchedule.far.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 1000000000000000',
      'beatSchedule.zero.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0',
      'beatSchedule.negative.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got -3',
      'beatSchedule.nan.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got NaN',
      'beatSchedule.inf.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got Infinity',
      'beatSchedule.justUnder.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0.0999',
      'beatSchedule.justOver.schedule: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 3155760000.001',
      'beatSchedule.tdLong.schedule.timedelta: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 3,155,846,400 s in all',
      'beatSchedule.tdEndless.schedule.timedelta: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got more than can be counted in all',
      'beatSchedule.tdShort.schedule.timedelta: an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0.099 s in all',
    ]);
  });

  it('accepts both bounds and keeps intervals to the whole millisecond', () => {
    const config = parseConfig(
      entries({
        least: 0.1,
        most: YEARS_100_S,
        fraction: 2.0004,
        td: { timedelta: { days: 36_525 } },
        tdFraction: { timedelta: { milliseconds: 100.6 } },
      }),
      'test',
    );
    expect(
      Object.fromEntries(config.entries.map((e) => [e.name, e.schedule.kind === 'interval' ? e.schedule.everyMs : undefined])),
    ).toEqual({
      least: 100,
      most: YEARS_100_S * 1000,
      fraction: 2000,
      td: YEARS_100_S * 1000,
      tdFraction: 101,
    });
  });

  it('bounds the other durations: timers at a day (Node fires a longer timer at once), instant offsets at 100 years', () => {
    expect(
      problemsOf({
        maxInterval: '2d',
        lock: { ttl: 1e10, retryEvery: 1e300 },
        broker: { transportOptions: { socketTimeout: 1e10, socketConnectTimeout: 86_401 } },
        beatSchedule: {
          a: {
            task: 't',
            schedule: 1,
            jitter: 1e300,
            catchUpWindow: '99999999d',
            options: { expires: 1e300, countdown: 4e9, timeLimit: 1e20, softTimeLimit: -1 },
          },
          b: { task: 't', schedule: 1, options: { expires: '2027-02-30T00:00:00Z' } },
          year0: { task: 't', schedule: { clocked: '0000-06-01T00:00:00Z' } },
          year10000: { task: 't', schedule: { clocked: '9999-12-31T23:00:00-05:00' } },
        },
      }),
    ).toEqual([
      'beatSchedule.a.options.expires: expires must be at most 100 years (3,155,760,000 s), got 1e+300',
      'beatSchedule.a.options.countdown: countdown must be at most 100 years (3,155,760,000 s), got 4000000000',
      'beatSchedule.a.options.timeLimit: timeLimit must be at most 100 years (3,155,760,000 s), got 100000000000000000000',
      'beatSchedule.a.options.softTimeLimit: softTimeLimit must be more than zero seconds',
      'beatSchedule.a.catchUpWindow: catchUpWindow must be between 0.001 s and 100 years (3,155,760,000 s), got "99999999d"',
      'beatSchedule.a.jitter: jitter must be between 0 s and 100 years (3,155,760,000 s), got 1e+300',
      'beatSchedule.b.options.expires: expires must be seconds or a real ISO-8601 date-time in the years 0001-9999 such as "2027-01-01T09:00:00Z", got "2027-02-30T00:00:00Z"',
      'beatSchedule.year0.schedule.clocked: "0000-06-01T00:00:00Z" must be in the years 0001-9999',
      'beatSchedule.year10000.schedule.clocked: "9999-12-31T23:00:00-05:00" must be in the years 0001-9999',
      'broker.transportOptions.socketTimeout: socketTimeout must be at most 1 day (86,400 s), got 10000000000',
      'broker.transportOptions.socketConnectTimeout: socketConnectTimeout must be at most 1 day (86,400 s), got 86401',
      'maxInterval: maxInterval must be between 0.01 s and 1 day (86,400 s), got "2d"',
      'lock.ttl: lock.ttl must be between 1 s and 1 day (86,400 s), got 10000000000',
      'lock.retryEvery: lock.retryEvery must be between 0.05 s and 1 day (86,400 s), got 1e+300',
    ]);
  });

  it('cuts a huge value to 80 characters where a problem echoes it, with its length (a 100,000-character zone)', () => {
    const zone = `Europe/${'B'.repeat(100_000)}`;
    const key = 'k'.repeat(100_000);
    const digits = '1'.repeat(100_000);
    const problems = problemsOf({
      timezone: zone,
      beatSchedule: { a: { task: 't', schedule: 1, [key]: 1 }, c: { task: 't', schedule: { cron: `${digits} * * * *` } } },
    });
    const cut = (text: string): string => `${JSON.stringify(text.slice(0, 80))}…(${text.length} chars)`;
    expect(problems).toEqual([
      `timezone: unknown time zone ${cut(zone)}; use an IANA name such as "Europe/Berlin" or "UTC"`,
      `beatSchedule.a[${cut(key)}]: unknown key ${cut(key)}; allowed keys: task, chain, group, chord, owner, schedule, args, kwargs, options, link, linkError, relative, timezone, enabled, catchUp, catchUpWindow, overlap, overlapTimeout, overlapBuffer, overlapSignal, jitter, spread, startAt, endAt, exclude, pauseOnFailure, retry, deadLetter, concurrency, maxRuns, oneOff, alerts, monitor, labels`,
      // Quoted by the cron parser itself, cut on the way out; and not "Infinity is out of range".
      `beatSchedule.c.schedule.cron: minute field ${cut(digits)}: ${cut(digits)} is out of range 0-59`,
    ]);
  });
});
