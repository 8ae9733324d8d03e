/**
 * Schedules read less quietly (issue 51): a 6-field cron line only with `seconds: true`, a crontab
 * line given to `crontab:` pointed to `cron:`.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { entryWindow } from '../../src/config/resolve.js';
import { nextFires } from '../../src/core/schedule.js';
import { problemsOf } from '../support/config-problems.js';

const entry = (schedule: unknown, extra: Record<string, unknown> = {}) => ({
  beatSchedule: { job: { task: 't.job', schedule, ...extra } },
});

describe('a 6-field cron line', () => {
  it('is refused without seconds: true, naming both readings (seconds first, a year last) and both fixes', () => {
    expect(problemsOf(entry({ cron: '30 2 * * 1 *' }))).toEqual([
      'beatSchedule.job.schedule.cron: "30 2 * * 1 *" has 6 fields, which tools read two ways: seconds first (second 30, minute 2, hour *, day-of-month *, month 1, day-of-week *; croner, Quartz, node-cron) or a year last (minute 30, hour 2, day-of-month *, month *, day-of-week 1, year *; AWS EventBridge). For seconds first, say so: { cron: "30 2 * * 1 *", seconds: true }; for a year last, drop the year: "30 2 * * 1"',
    ]);
    expect(problemsOf(entry({ cron: '30 2 * * 1 *', seconds: false }))[0]).toContain('has 6 fields, which tools read two ways');
  });

  it('says tsbeat has no year field when the last field names a year', () => {
    expect(problemsOf(entry({ cron: '0 9 1 1 * 2027' }))[0]).toMatch(
      /drop the year: "0 9 1 1 \*" \(tsbeat has no year field: startAt and endAt bound an entry in time\)$/,
    );
  });

  it('runs seconds first with seconds: true', () => {
    const [resolved] = parseConfig(entry({ cron: '*/20 * * * * *', seconds: true }), 'test.yaml').entries;
    const after = Date.parse('2026-06-01T00:00:00Z');
    expect(nextFires(resolved!.schedule, { zone: 'UTC', afterMs: after }, 3).map((ms) => new Date(ms).toISOString())).toEqual([
      '2026-06-01T00:00:20.000Z',
      '2026-06-01T00:00:40.000Z',
      '2026-06-01T00:01:00.000Z',
    ]);
  });

  it('seconds: true on a line of 5 fields or a nickname, or on another form, is refused', () => {
    expect(problemsOf(entry({ cron: '0 9 * * *', seconds: true }))).toEqual([
      'beatSchedule.job.schedule.seconds: seconds: true says the cron line has 6 fields, seconds first; "0 9 * * *" has 5',
    ]);
    expect(problemsOf(entry({ cron: '@daily', seconds: true }))).toEqual([
      'beatSchedule.job.schedule.seconds: seconds: true says the cron line has 6 fields, seconds first; "@daily" has a nickname',
    ]);
    expect(problemsOf(entry({ timedelta: { minutes: 5 }, seconds: true }))).toEqual([
      'beatSchedule.job.schedule.seconds: seconds goes with a cron line ({ cron: LINE, seconds: true }) only',
    ]);
  });

  it('in exclude: a bare 6-field string is refused, { cron, seconds: true } excludes to the second', () => {
    expect(problemsOf(entry(60, { exclude: ['0 * * * * *'] }))[0]).toMatch(
      /^beatSchedule\.job\.exclude\[0\]: "0 \* \* \* \* \*" has 6 fields, .* For seconds first, say so: \{ cron: "0 \* \* \* \* \*", seconds: true \}; for a year last, drop the year: "0 \* \* \* \*"$/,
    );
    const [resolved] = parseConfig(
      entry({ cron: '*/30 * * * * *', seconds: true }, { exclude: [{ cron: '0 * * * * *', seconds: true }] }),
      'test.yaml',
    ).entries;
    const after = Date.parse('2026-06-01T00:00:00Z');
    expect(
      nextFires(resolved!.schedule, { zone: 'UTC', afterMs: after, window: entryWindow(resolved!) }, 2).map((ms) =>
        new Date(ms).toISOString(),
      ),
    ).toEqual(['2026-06-01T00:00:30.000Z', '2026-06-01T00:01:30.000Z']);
  });
});

describe('a crontab line given to crontab:', () => {
  it('is pointed to cron:, with the line as it would be written there', () => {
    expect(problemsOf(entry({ crontab: '0 9 * * *' }))).toEqual([
      'beatSchedule.job.schedule.crontab: crontab takes Celery\'s fields, such as { minute: 0, hour: 9 }; use `cron:` for a crontab line: { cron: "0 9 * * *" }',
    ]);
  });

  it("Celery's fields still read as before", () => {
    expect(() => parseConfig(entry({ crontab: { minute: 0, hour: 9 } }), 'test.yaml')).not.toThrow();
    expect(problemsOf(entry({ crontab: { hour: 25 } }))).toEqual(['beatSchedule.job.schedule.crontab.hour: 25 is out of range 0-23']);
  });
});
