/**
 * base/step-budget.ts: a step budget per schedule computation, and the guard that a next slot advances;
 * config/schedule-cost.ts: the same budget refusing a runtime entry when it is written.
 */
import { describe, expect, it } from 'vitest';
import { ScheduleError, isScheduleError, mustAdvance, spendSteps, withStepBudget } from '../../src/base/step-budget.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { scheduleCostProblem } from '../../src/config/schedule-cost.js';
import type { ParsedEntry } from '../../src/config/schema.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('withStepBudget', () => {
  it('lets a computation spend up to its limit, and stops it past it with SCHEDULE_BUDGET naming what it computed', () => {
    expect(
      withStepBudget(
        () => 'ten steps',
        () => (spendSteps(10), 'done'),
        10,
      ),
    ).toBe('done');
    const error = thrown(() =>
      withStepBudget(
        () => 'the next runs of x',
        () => spendSteps(11),
        10,
      ),
    );
    expect(isScheduleError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'SCHEDULE_BUDGET', name: 'ScheduleError' });
    expect((error as ScheduleError).message).toMatch(/^computing the next runs of x took more than 10 steps \(scheduleStepBudget\)/);
  });

  it('a nested call spends from the outer budget; the budget is closed after a throw (a later call has its own)', () => {
    const error = thrown(() =>
      withStepBudget(
        () => 'outer',
        () => {
          spendSteps(6);
          withStepBudget(
            () => 'inner',
            () => spendSteps(6),
            100,
          );
        },
        10,
      ),
    );
    expect((error as ScheduleError).message).toMatch(/^computing outer /);
    // Outside any budget nothing is counted; a new call starts full.
    spendSteps(1_000_000);
    expect(
      withStepBudget(
        () => 'fresh',
        () => (spendSteps(DEFAULTS.scheduleStepBudget), 'ok'),
      ),
    ).toBe('ok');
  });
});

describe('mustAdvance', () => {
  it('passes a later slot and refuses the same or an earlier one with SCHEDULE_STALLED naming both instants', () => {
    expect(() => mustAdvance(2, 1, () => 'x')).not.toThrow();
    for (const slot of [1, 0]) {
      const error = thrown(() => mustAdvance(slot, 1, () => 'every 1h, aligned to the hour in Australia/Lord_Howe'));
      expect(error).toBeInstanceOf(ScheduleError);
      expect(error).toMatchObject({ code: 'SCHEDULE_STALLED' });
      expect((error as Error).message).toContain(
        'every 1h, aligned to the hour in Australia/Lord_Howe does not advance: after 1970-01-01T00:00:00.001Z',
      );
    }
  });
});

describe('scheduleCostProblem: the write-time check of a runtime entry (config/schedule-cost.ts)', () => {
  const context = { zone: 'UTC', deployment: 'default', nowMs: Date.parse('2026-11-25T00:00:00Z') };
  const parsed = (value: unknown): ParsedEntry => {
    const result = parseEntryDefinition(value);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    return result.entry;
  };

  it('refuses a rule whose next run spends the step budget at `schedule`, naming the rule, the budget and why', () => {
    const rule = 'FREQ=SECONDLY;INTERVAL=99999;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0';
    const problem = scheduleCostProblem('x', parsed({ task: 'x.y', schedule: { rrule: rule } }), context);
    expect(problem?.path).toBe('schedule');
    expect(problem?.message).toContain(rule);
    expect(problem?.message).toMatch(
      /took more than 25,000 steps \(scheduleStepBudget\): .*simplify it.* \(SCHEDULE_BUDGET\); beat run would fail the entry at every try, so it is not written$/,
    );
    const count = scheduleCostProblem(
      'y',
      parsed({ task: 'x.y', schedule: { rrule: 'FREQ=SECONDLY;COUNT=1000000;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO' } }),
      context,
    );
    expect(count?.path).toBe('schedule');
  });

  it('puts exclusions that cover every slot at `exclude` (the schedule alone is fine), and passes ordinary and rare-but-real schedules', () => {
    const covered = scheduleCostProblem('z', parsed({ task: 'x.y', schedule: 86_400, exclude: ['* * * * *'] }), context);
    expect(covered).toMatchObject({
      path: 'exclude',
      message: expect.stringMatching(/^its exclusions leave the schedule \(almost\) no slot: /),
    });
    for (const schedule of [
      60,
      { cron: '0 0 29 2 *' },
      { rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO' },
      { rrule: 'FREQ=WEEKLY;BYDAY=MO' },
    ])
      expect(
        scheduleCostProblem('ok', parsed({ task: 'x.y', schedule, exclude: ['* * * * sat,sun'] }), context),
        JSON.stringify(schedule),
      ).toBeUndefined();
  });
});
