/**
 * Parsers for both dialects: field semantics, the dom/dow rule of each, extensions, nicknames,
 * the §4 fixed/wildcard classification, and every error message (pinned exactly).
 */
import { describe, expect, it } from 'vitest';
import { CronParseError, describeCron, nextCronFires, parseCeleryCrontab, parseCronLine } from '../../src/core/cron/index.js';
import type { CeleryCrontabFields, CronSpec } from '../../src/core/cron/index.js';

function failure(parse: () => unknown): { message: string; field: string | undefined } {
  try {
    parse();
  } catch (error) {
    if (!(error instanceof CronParseError)) throw error;
    return { message: error.message, field: error.field };
  }
  throw new Error('expected a CronParseError');
}

/** The next `n` fire dates (UTC, YYYY-MM-DD HH:MM) after `after`. */
function next(spec: CronSpec, after: string, n = 3): string[] {
  return nextCronFires(spec, 'UTC', Date.parse(after), n).map((ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
}

describe('parseCronLine: fields', () => {
  it('expands ranges, lists and steps, sorted and unique', () => {
    const s = parseCronLine('1,13,30-45/5,50-59/2,13 */6 1-7,15 */3 *');
    expect(s.minutes).toEqual([1, 13, 30, 35, 40, 45, 50, 52, 54, 56, 58]);
    expect(s.hours).toEqual([0, 6, 12, 18]);
    expect(s.daysOfMonth).toEqual([1, 2, 3, 4, 5, 6, 7, 15]);
    expect(s.months).toEqual([1, 4, 7, 10]);
    expect(s.seconds).toEqual([0]);
    expect(s.dialect).toBe('cron');
    expect(s.source).toBe('1,13,30-45/5,50-59/2,13 */6 1-7,15 */3 *');
  });

  it('aligns steps to the field minimum: */45 is {0,45}, dom */10 is 1,11,21,31', () => {
    expect(parseCronLine('*/45 * * * *').minutes).toEqual([0, 45]);
    expect(parseCronLine('0 0 */10 * *').daysOfMonth).toEqual([1, 11, 21, 31]);
  });

  it('reads n/step as n-max/step (cron-parser, Quartz), which cronie would reject', () => {
    expect(parseCronLine('5/15 * * * *').minutes).toEqual([5, 20, 35, 50]);
    expect(parseCronLine('0 0 * * 1/2').daysOfWeek).toEqual([0, 1, 3, 5]);
  });

  it('takes 3-letter month and day names in any case', () => {
    const s = parseCronLine('0 6 * jan,JUL MON-fri');
    expect(s.months).toEqual([1, 7]);
    expect(s.daysOfWeek).toEqual([1, 2, 3, 4, 5]);
  });

  it('treats 0 and 7 as Sunday, and a day-of-week range ending on SUN as ending on 7 (FRI-SUN)', () => {
    expect(parseCronLine('0 0 * * 7').daysOfWeek).toEqual([0]);
    expect(parseCronLine('0 0 * * 0-7').daysOfWeek).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(parseCronLine('0 0 * * FRI-SUN').daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCronLine('0 0 * * 5-0').daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCronLine('0 0 * * 1-7/2').daysOfWeek).toEqual([0, 1, 3, 5]);
    expect(next(parseCronLine('0 0 * * FRI-SUN'), '2027-01-01T00:00:00Z', 4)).toEqual([
      '2027-01-02 00:00',
      '2027-01-03 00:00',
      '2027-01-08 00:00',
      '2027-01-09 00:00',
    ]);
  });

  it('reads 6 fields as seconds first', () => {
    const s = parseCronLine('*/20 30 2 * * *');
    expect(s.seconds).toEqual([0, 20, 40]);
    expect(s.minutes).toEqual([30]);
    expect(s.fixed).toBe(true);
    expect(nextCronFires(s, 'UTC', Date.UTC(2027, 0, 1), 4).map((t) => new Date(t).toISOString())).toEqual([
      '2027-01-01T02:30:00.000Z',
      '2027-01-01T02:30:20.000Z',
      '2027-01-01T02:30:40.000Z',
      '2027-01-02T02:30:00.000Z',
    ]);
  });

  it('accepts ? as * in the day fields', () => {
    const s = parseCronLine('0 0 ? * MON');
    expect(s.daysOfWeek).toEqual([1]);
    expect(s.dayRule).toBe('and');
  });

  it('classifies fixed vs wildcard by the minute and hour text (§4)', () => {
    expect(parseCronLine('30 2 * * *').fixed).toBe(true);
    expect(parseCronLine('0,30 1-3 * * *').fixed).toBe(true);
    expect(parseCronLine('0/15 2 * * *').fixed).toBe(true);
    expect(parseCronLine('*/15 2 * * *').fixed).toBe(false);
    expect(parseCronLine('30 * * * *').fixed).toBe(false);
    expect(parseCronLine('30 */2 * * *').fixed).toBe(false);
  });
});

describe('parseCronLine: day-of-month / day-of-week rule (cronie)', () => {
  it('ORs the two day fields when both are restricted', () => {
    const s = parseCronLine('30 4 1,15 * 5');
    expect(s.dayRule).toBe('or');
    expect(next(s, '2026-12-31T00:00:00Z')).toEqual(['2027-01-01 04:30', '2027-01-08 04:30', '2027-01-15 04:30']);
  });

  it('counts */2 as unrestricted (it starts with *), so it is ANDed with the weekday', () => {
    const s = parseCronLine('0 0 */2 * 1');
    expect(s.dayRule).toBe('and');
    expect(next(s, '2026-12-31T00:00:00Z')).toEqual(['2027-01-11 00:00', '2027-01-25 00:00', '2027-02-01 00:00']);
    expect(parseCronLine('0 0 1 * */2').dayRule).toBe('and');
  });

  it('counts 1-31 as restricted, so 1-31 OR Monday is every day', () => {
    expect(parseCronLine('0 0 1-31 * 1').dayRule).toBe('or');
    expect(next(parseCronLine('0 0 1-31 * 1'), '2026-12-31T00:00:00Z')).toEqual([
      '2027-01-01 00:00',
      '2027-01-02 00:00',
      '2027-01-03 00:00',
    ]);
  });

  it('makes an impossible day-of-month possible through the OR (30 February or any Monday)', () => {
    expect(next(parseCronLine('0 0 30 2 1'), '2027-01-01T00:00:00Z')).toEqual(['2027-02-01 00:00', '2027-02-08 00:00', '2027-02-15 00:00']);
  });
});

describe('parseCronLine: extensions and nicknames', () => {
  it('L is the last day of the month', () => {
    const s = parseCronLine('0 0 L * *');
    expect(s.lastDayOfMonth).toBe(true);
    expect(next(s, '2028-01-15T00:00:00Z')).toEqual(['2028-01-31 00:00', '2028-02-29 00:00', '2028-03-31 00:00']);
  });

  it('LW is the last weekday of the month', () => {
    // 2027-01-31 is a Sunday, 2027-04-30 a Friday, 2027-07-31 a Saturday.
    const s = parseCronLine('0 0 LW 1,4,7 *');
    expect(next(s, '2027-01-01T00:00:00Z')).toEqual(['2027-01-29 00:00', '2027-04-30 00:00', '2027-07-30 00:00']);
  });

  it('nW is the weekday nearest day n, without leaving the month', () => {
    // 2027-05-15 is a Saturday (→ Fri 14th); 2027-08-01 a Sunday (→ Mon 2nd); 2027-05-01 a Saturday (→ Mon 3rd).
    expect(next(parseCronLine('0 0 15W 5 *'), '2027-01-01T00:00:00Z', 1)).toEqual(['2027-05-14 00:00']);
    expect(next(parseCronLine('0 0 1W 8 *'), '2027-01-01T00:00:00Z', 1)).toEqual(['2027-08-02 00:00']);
    expect(next(parseCronLine('0 0 1W 5 *'), '2027-01-01T00:00:00Z', 1)).toEqual(['2027-05-03 00:00']);
    // 2027-10-31 is a Sunday: the nearest weekday inside the month is Friday the 29th.
    expect(next(parseCronLine('0 0 31W 10 *'), '2027-01-01T00:00:00Z', 1)).toEqual(['2027-10-29 00:00']);
  });

  it('w#n is the n-th weekday w, wL the last weekday w of the month', () => {
    expect(next(parseCronLine('15 10 * * 1#2'), '2027-01-01T00:00:00Z')).toEqual([
      '2027-01-11 10:15',
      '2027-02-08 10:15',
      '2027-03-08 10:15',
    ]);
    expect(next(parseCronLine('0 0 * * FRI#5'), '2027-01-01T00:00:00Z')).toEqual([
      '2027-01-29 00:00',
      '2027-04-30 00:00',
      '2027-07-30 00:00',
    ]);
    expect(next(parseCronLine('0 0 * * 5L'), '2027-01-01T00:00:00Z')).toEqual(['2027-01-29 00:00', '2027-02-26 00:00', '2027-03-26 00:00']);
    expect(parseCronLine('0 0 * * 7L').lastDaysOfWeek).toEqual([0]);
  });

  it('expands the nicknames; @hourly is wildcard, the others fixed', () => {
    const expect5 = (nick: string, line: string, fixed: boolean): void => {
      const a = parseCronLine(nick);
      const b = parseCronLine(line);
      expect({ ...a, source: '' }).toEqual({ ...b, source: '' });
      expect(a.source).toBe(nick);
      expect(a.fixed).toBe(fixed);
    };
    expect5('@yearly', '0 0 1 1 *', true);
    expect5('@annually', '0 0 1 1 *', true);
    expect5('@monthly', '0 0 1 * *', true);
    expect5('@weekly', '0 0 * * 0', true);
    expect5('@daily', '0 0 * * *', true);
    expect5('@midnight', '0 0 * * *', true);
    expect5('@hourly', '0 * * * *', false);
    expect5('@Daily', '0 0 * * *', true);
  });
});

describe('parseCronLine: errors', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['0 25 * * *', 'hour field "25": 25 is out of range 0-23', 'hour'],
    ['60 * * * *', 'minute field "60": 60 is out of range 0-59', 'minute'],
    ['61 0 * * * *', 'second field "61": 61 is out of range 0-59', 'second'],
    ['0 0 0 * *', 'day-of-month field "0": 0 is out of range 1-31', 'dayOfMonth'],
    ['0 0 * 13 *', 'month field "13": 13 is out of range 1-12', 'month'],
    ['0 0 * * 8', 'day-of-week field "8": 8 is out of range 0-7', 'dayOfWeek'],
    ['0 0,25 * * *', 'hour field "0,25": 25 is out of range 0-23', 'hour'],
    ['* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first), got 4 in "* * * *"', undefined],
    [
      '0 0 1 1 * 2027 x',
      'expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first), got 7 in "0 0 1 1 * 2027 x"',
      undefined,
    ],
    ['', 'empty cron expression; expected 5 fields: minute hour day-of-month month day-of-week', undefined],
    ['0,,5 * * * *', 'minute field "0,,5": empty entry in the list', 'minute'],
    [',5 * * * *', 'minute field ",5": empty entry in the list', 'minute'],
    ['0 23-1 * * *', 'hour field "23-1": range 23-1 goes backwards; for a range that wraps around write "23,0-1"', 'hour'],
    [
      '0 0 * * SAT-MON',
      'day-of-week field "SAT-MON": range SAT-MON goes backwards; for a range that wraps around write "6-7,1"',
      'dayOfWeek',
    ],
    [
      '0 0 20-10 * *',
      'day-of-month field "20-10": range 20-10 goes backwards; for a range that wraps around write "20-31,1-10"',
      'dayOfMonth',
    ],
    ['*/0 * * * *', 'minute field "*/0": step 0 is out of range 1-59', 'minute'],
    ['*/90 * * * *', 'minute field "*/90": step 90 is out of range 1-59', 'minute'],
    ['0 */24 * * *', 'hour field "*/24": step 24 is out of range 1-23', 'hour'],
    ['1,*/x * * * *', 'minute field "1,*/x": "*/x": step "x" is not a number', 'minute'],
    ['1/2/3 * * * *', 'minute field "1/2/3": more than one "/"', 'minute'],
    ['1-2-3 * * * *', 'minute field "1-2-3": expected a range like 1-5', 'minute'],
    ['0 0 * * monday', 'day-of-week field "monday": "monday" is not a valid value; use 0-7 or SUN-SAT', 'dayOfWeek'],
    ['0 0 * foo *', 'month field "foo": "foo" is not a valid value; use 1-12 or JAN-DEC', 'month'],
    ['x * * * *', 'minute field "x": "x" is not a valid value; use 0-59', 'minute'],
    ['0 0 * * 1#6', 'day-of-week field "1#6": the occurrence after # must be 1-5', 'dayOfWeek'],
    ['0 0 * * 1,2#0', 'day-of-week field "1,2#0": "2#0": the occurrence after # must be 1-5', 'dayOfWeek'],
    [
      '0 0 * * L',
      'day-of-week field "L": "L" alone is ambiguous in day-of-week; write e.g. 5L for the last Friday of the month',
      'dayOfWeek',
    ],
    ['0 L * * *', 'hour field "L": L, W, # and ? are only allowed in the day-of-month and day-of-week fields', 'hour'],
    ['0 ? * * *', 'hour field "?": L, W, # and ? are only allowed in the day-of-month and day-of-week fields', 'hour'],
    ['0 0 L/2 * *', 'day-of-month field "L/2": a step cannot follow L, W or #', 'dayOfMonth'],
    ['0 0 L-3 * *', 'day-of-month field "L-3": L-n (days before the last) is not supported', 'dayOfMonth'],
    ['0 0 32W * *', 'day-of-month field "32W": 32 is out of range 1-31', 'dayOfMonth'],
    ['@reboot', '"@reboot" means "once when cron starts", which is not a schedule; tsbeat cannot run it', undefined],
    ['@every', 'unknown nickname "@every"; use one of @yearly @annually @monthly @weekly @daily @midnight @hourly', undefined],
    ['@daily 5', '"@daily 5": a nickname stands alone, without other fields', undefined],
  ];
  for (const [line, message, field] of cases) {
    it(`rejects ${JSON.stringify(line)}`, () => {
      expect(failure(() => parseCronLine(line))).toEqual({ message, field });
    });
  }
});

describe('impossible schedules are rejected at parse', () => {
  const cases: Array<[string, string]> = [
    ['0 0 30 2 *', 'can never run: February has no day 30'],
    ['0 0 30,31 2 *', 'can never run: February has no day 30 or 31'],
    ['0 0 31 2,4 *', 'can never run: February and April have no day 31'],
    ['0 0 31 4,6,9,11 *', 'can never run: April, June, September and November have no day 31'],
    ['0 0 31W 2 *', 'can never run: February has no day 31'],
    ['0 0 */15 * 1#2', 'can never run: no date matches day-of-month "*/15", month "*" and day-of-week "1#2" together'],
  ];
  for (const [line, message] of cases) {
    it(`rejects ${JSON.stringify(line)}`, () => {
      expect(failure(() => parseCronLine(line))).toEqual({ message, field: 'dayOfMonth' });
    });
  }

  it('accepts schedules that are merely rare: 29 February, the fifth Friday, the 31st with a restricted weekday', () => {
    expect(next(parseCronLine('0 0 29 2 *'), '2025-01-01T00:00:00Z')).toEqual(['2028-02-29 00:00', '2032-02-29 00:00', '2036-02-29 00:00']);
    expect(next(parseCronLine('0 0 * 2 1#5'), '2025-01-01T00:00:00Z', 2)).toEqual(['2044-02-29 00:00', '2072-02-29 00:00']);
    expect(next(parseCronLine('0 0 */2 2 1#5'), '2025-01-01T00:00:00Z', 1)).toEqual(['2044-02-29 00:00']);
    expect(parseCronLine('0 0 31 2 1').dayRule).toBe('or');
  });

  it('rejects a Celery object whose day can never exist', () => {
    expect(failure(() => parseCeleryCrontab({ dayOfMonth: 31, monthOfYear: 2 }))).toEqual({
      message: 'can never run: February has no day 31',
      field: 'dayOfMonth',
    });
    expect(failure(() => parseCeleryCrontab({ dayOfMonth: '30-31', monthOfYear: 'feb', dayOfWeek: 'mon' }))).toEqual({
      message: 'can never run: February has no day 30 or 31',
      field: 'dayOfMonth',
    });
  });
});

describe('parseCeleryCrontab', () => {
  it('defaults every missing field to * and ANDs all date fields', () => {
    const s = parseCeleryCrontab({});
    expect(s.minutes).toHaveLength(60);
    expect(s.dayRule).toBe('and');
    expect(s.fixed).toBe(false);
    expect(s.dialect).toBe('celery');
    expect(s.source).toBe('crontab()');
    // first Monday of the month, celery's documented AND example
    const first = parseCeleryCrontab({ minute: 0, hour: 9, dayOfWeek: 'mon', dayOfMonth: '1-7' });
    expect(next(first, '2027-01-01T00:00:00Z')).toEqual(['2027-01-04 09:00', '2027-02-01 09:00', '2027-03-01 09:00']);
    // the same fields in a crontab line are ORed
    expect(parseCronLine('0 9 1-7 * mon').dayRule).toBe('or');
  });

  it('takes ints, strings and lists (strings in lists are patterns)', () => {
    expect(parseCeleryCrontab({ minute: 5 }).minutes).toEqual([5]);
    expect(parseCeleryCrontab({ minute: '1,13,30-45,50-59/2' }).minutes).toEqual([
      1, 13, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 50, 52, 54, 56, 58,
    ]);
    expect(parseCeleryCrontab({ hour: [0, 12, '20-22'] }).hours).toEqual([0, 12, 20, 21, 22]);
    expect(parseCeleryCrontab({ hour: '0,8-17/2' }).hours).toEqual([0, 8, 10, 12, 14, 16]);
  });

  it('wraps reversed ranges around the field end, with steps across the wrap', () => {
    expect(parseCeleryCrontab({ hour: '23-1' }).hours).toEqual([0, 1, 23]);
    expect(parseCeleryCrontab({ hour: '22-2/2' }).hours).toEqual([0, 2, 22]);
    expect(parseCeleryCrontab({ dayOfWeek: 'fri-mon' }).daysOfWeek).toEqual([0, 1, 5, 6]);
    expect(parseCeleryCrontab({ monthOfYear: 'nov-feb' }).months).toEqual([1, 2, 11, 12]);
  });

  it('reads day_of_week */2 as Sun, Tue, Thu, Sat (values divisible by 2)', () => {
    expect(parseCeleryCrontab({ dayOfWeek: '*/2' }).daysOfWeek).toEqual([0, 2, 4, 6]);
    expect(parseCeleryCrontab({ monthOfYear: '*/3' }).months).toEqual([1, 4, 7, 10]);
    expect(parseCeleryCrontab({ dayOfMonth: '*/10' }).daysOfMonth).toEqual([1, 11, 21, 31]);
  });

  it('takes the first three letters of any word as a day or month name', () => {
    expect(parseCeleryCrontab({ dayOfWeek: 'monday,Fri' }).daysOfWeek).toEqual([1, 5]);
    expect(parseCeleryCrontab({ dayOfWeek: 'monkey' }).daysOfWeek).toEqual([1]);
    expect(parseCeleryCrontab({ monthOfYear: 'January,jul' }).months).toEqual([1, 7]);
  });

  it('classifies strings by their text and ints/lists as fixed (§4)', () => {
    expect(parseCeleryCrontab({ minute: '30', hour: '2' }).fixed).toBe(true);
    expect(parseCeleryCrontab({ minute: 30, hour: [1, 2] }).fixed).toBe(true);
    expect(parseCeleryCrontab({ minute: '*/20', hour: '2' }).fixed).toBe(false);
    expect(parseCeleryCrontab({ minute: 0 }).fixed).toBe(false);
    expect(parseCeleryCrontab({ minute: 0, hour: '*' }).fixed).toBe(false);
  });

  it('records the source as Celery writes it: keyword order, snake_case names, Python literals', () => {
    expect(parseCeleryCrontab({ monthOfYear: 1, minute: '*/5', hour: [1, 2] }).source).toBe(
      "crontab(minute='*/5', hour=[1, 2], month_of_year=1)",
    );
    expect(parseCeleryCrontab({ dayOfMonth: '1', dayOfWeek: 'mon-fri' }).source).toBe("crontab(day_of_week='mon-fri', day_of_month='1')");
  });

  const errors: Array<[CeleryCrontabFields, string, string]> = [
    [{ hour: 25 }, '25 is out of range 0-23', 'hour'],
    [{ hour: '25' }, '25 is out of range 0-23', 'hour'],
    [{ minute: '1,60' }, '60 is out of range 0-59', 'minute'],
    [{ dayOfWeek: 7 }, '7 is out of range 0-6 (Sunday is 0)', 'dayOfWeek'],
    [{ dayOfMonth: 0 }, '0 is out of range 1-31', 'dayOfMonth'],
    [{ monthOfYear: 13 }, '13 is out of range 1-12', 'monthOfYear'],
    [{ minute: 2.5 }, '2.5 is not a whole number', 'minute'],
    [{ minute: '5/15' }, '"5/15": a step needs a range or *, e.g. "5-59/15" or "*/15"', 'minute'],
    [{ minute: '*/0' }, 'step 0 is out of range 1-59', 'minute'],
    [{ minute: '*/90' }, 'step 90 is out of range 1-59', 'minute'],
    [{ dayOfWeek: '*/7' }, 'step 7 is out of range 1-6', 'dayOfWeek'],
    [{ minute: '*/' }, 'step "" in "*/" is not a number', 'minute'],
    [{ minute: '1-5/2/3' }, '"1-5/2/3" has more than one "/"', 'minute'],
    [{ minute: '1-' }, '"1-" is not a range like 1-5', 'minute'],
    [{ minute: '-5' }, 'negative numbers are not allowed ("-5")', 'minute'],
    [{ minute: '' }, '"" is empty; use "*" for every value', 'minute'],
    [{ minute: '1,,2' }, 'empty entry in "1,,2"', 'minute'],
    [{ minute: [] }, 'an empty list never matches; use "*" for every value', 'minute'],
    [{ minute: 'x' }, '"x" is not a number; allowed: 0-59', 'minute'],
    [{ hour: 'mon' }, '"mon" is not a number; allowed: 0-23', 'hour'],
    [{ dayOfWeek: 'mo' }, '"mo" is not a number or a day name (sun-sat); allowed: 0-6', 'dayOfWeek'],
    [{ monthOfYear: 'mon' }, '"mon" is not a number or a month name (jan-dec); allowed: 1-12', 'monthOfYear'],
    [{ minute: true as unknown as number }, 'expected a number, a string or a list, got true', 'minute'],
    [{ minute: [true as unknown as number] }, 'list items must be numbers or strings, got true', 'minute'],
  ];
  for (const [fields, message, field] of errors) {
    it(`rejects ${JSON.stringify(fields)}`, () => {
      expect(failure(() => parseCeleryCrontab(fields))).toEqual({ message, field });
    });
  }
});

describe('describeCron', () => {
  const cases: Array<[CronSpec, string]> = [
    [parseCronLine('30 2 * * *'), 'at 02:30 every day'],
    [parseCronLine('*/15 * * * *'), 'every 15 minutes'],
    [parseCronLine('* * * * *'), 'every minute'],
    [parseCronLine('0 */2 * * *'), 'at minute 0 past every 2nd hour'],
    [parseCronLine('7 */3 * * *'), 'at minute 7 past every 3rd hour'],
    [parseCronLine('@hourly'), 'every hour'],
    [parseCronLine('30 * * * *'), 'at minute 30 past every hour'],
    [parseCronLine('0 9 * * 1-5'), 'at 09:00 on Mon–Fri'],
    [parseCronLine('0 0 * * 6,0'), 'at 00:00 on Sat and Sun'],
    [parseCronLine('0 0 * * 1,3,5'), 'at 00:00 on Mon, Wed and Fri'],
    [parseCronLine('@weekly'), 'at 00:00 on Sun'],
    [parseCronLine('@yearly'), 'at 00:00 on 1 January'],
    [parseCronLine('0 0 1,15 * *'), 'at 00:00 on days 1 and 15 of the month'],
    [parseCronLine('0 0 1 1,7 *'), 'at 00:00 on day 1 of the month in January and July'],
    [parseCronLine('0 0 L * *'), 'at 00:00 on the last day of the month'],
    [parseCronLine('0 0 * JUL *'), 'at 00:00 every day in July'],
    [parseCronLine('0,30 9,17 * * *'), 'at 09:00, 09:30, 17:00 and 17:30 every day'],
    [parseCronLine('*/15 9-17 * * 1-5'), 'every 15 minutes from 09:00 to 17:45 on Mon–Fri'],
    [parseCronLine('*/15 2 * * *'), 'every 15 minutes from 02:00 to 02:45'],
    // Every spec in words (issue 51), none as code.
    [parseCronLine('*/7 * * * *'), 'at minutes 0, 7, …, 56 past every hour'],
    [parseCronLine('0 0 1 * 5'), 'at 00:00 on day 1 of the month or Fri'],
    [parseCronLine('0 0 * * 5L'), 'at 00:00 on the last Fri of the month'],
    [parseCronLine('*/10 * * * * *'), 'every 10 seconds'],
    [parseCronLine('30 2 * * * *'), 'at second 30, at minute 2 past every hour'],
    [parseCronLine('*/30 1-3 * * *'), 'every 30 minutes from 01:00 to 03:30'],
    [parseCronLine('5,35 8-18/2 * * *'), 'at minutes 5 and 35 past hours 8, 10, …, 18'],
    [parseCronLine('*/10 8,12,16 * * *'), 'every 10 minutes during hours 8, 12 and 16'],
    [parseCronLine('0 9 15W * *'), 'at 09:00 on the weekday nearest day 15 of the month'],
    [parseCronLine('0 9 * * 1#2'), 'at 09:00 on the 2nd Mon of the month'],
    [parseCronLine('0 9 LW * *'), 'at 09:00 on the last weekday of the month'],
    [parseCronLine('0 9 1,L * *'), 'at 09:00 on day 1 of the month or the last day of the month'],
    [parseCeleryCrontab({ minute: 0, hour: 3 }), 'at 03:00 every day'],
    [parseCeleryCrontab({ minute: '*/15' }), 'every 15 minutes'],
    [parseCeleryCrontab({ dayOfWeek: '*/2', hour: 12, minute: 0 }), 'at 12:00 on Tue, Thu, Sat and Sun'],
    [parseCeleryCrontab({ hour: '23-1' }), 'every minute during hours 0, 1 and 23'],
    [parseCeleryCrontab({ minute: '*/30', hour: '1-3' }), 'every 30 minutes from 01:00 to 03:30'],
    // Celery's day rule: both day fields must match.
    [parseCeleryCrontab({ minute: 0, hour: 9, dayOfWeek: 'mon', dayOfMonth: '1-7' }), 'at 09:00 on days 1–7 of the month when it is Mon'],
  ];
  for (const [spec, text] of cases) {
    it(`${spec.source} → ${text}`, () => expect(describeCron(spec)).toBe(text));
  }
});
