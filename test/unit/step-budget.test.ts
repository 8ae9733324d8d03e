/** base/step-budget.ts: a step budget per schedule computation, and the guard that a next slot advances. */
import { describe, expect, it } from 'vitest';
import { ScheduleError, isScheduleError, mustAdvance, spendSteps, withStepBudget } from '../../src/base/step-budget.js';
import { DEFAULTS } from '../../src/base/defaults.js';

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
