/**
 * A step budget per schedule computation (issue 49, issue 54). Every loop in the schedule core
 * (next fire, fires in a window, the exclusion scan, rrule expansion) spends a step per turn; a
 * call that spends more than its budget stops with a ScheduleError instead of running on. A
 * computation that hands back a slot that is not strictly after the instant asked about stops the
 * same way (a schedule that does not advance would otherwise be asked again and again). The runner
 * fails that entry alone with the error's message as its reason; the others keep their slots, and
 * the process keeps its event loop (SIGTERM, the lock's renewals) whatever a schedule says.
 *
 * Pure: the budget counts steps, never the clock. The current budget is a module variable because
 * every computation is synchronous: a call opens one, the helpers it calls spend from it, and it is
 * closed before the call returns, so two calls never share one (a nested call spends from the
 * outer one: `nextFires` inside a fires-in-a-window walk counts against that walk's call only when
 * the walk opened one).
 */
import { DEFAULTS } from './defaults.js';
import { BeatError, ErrorCode } from './errors.js';

/** Why a computation was stopped: it spent its budget, or it gave a slot that does not advance. */
export type ScheduleErrorCode = typeof ErrorCode.ScheduleBudget | typeof ErrorCode.ScheduleStalled;

export class ScheduleError extends BeatError {
  declare readonly code: ScheduleErrorCode;
  constructor(code: ScheduleErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ScheduleError';
  }
}

export function isScheduleError(error: unknown): error is ScheduleError {
  return error instanceof ScheduleError;
}

class StepBudget {
  private left: number;
  constructor(
    readonly limit: number,
    readonly what: () => string,
  ) {
    this.left = limit;
  }

  spend(steps: number): void {
    this.left -= steps;
    if (this.left < 0)
      throw new ScheduleError(
        ErrorCode.ScheduleBudget,
        `computing ${this.what()} took more than ${this.limit.toLocaleString('en-US')} steps (scheduleStepBudget): the schedule ` +
          'fires too rarely for what it asks, or never; simplify it (a rule that matches less rarely, fewer exclusions)',
      );
  }
}

let current: StepBudget | undefined;
/** Steps spent in this thread since it started, budget or not. */
let spentInThread = 0;

/**
 * Runs `compute` under a budget of `limit` steps, unless a budget is open already (the outer call's
 * covers it). Whatever `compute` throws, the budget is closed. `what` names the computation in the
 * error, built only then (a burst asks this of every entry).
 */
export function withStepBudget<T>(what: () => string, compute: () => T, limit: number = DEFAULTS.scheduleStepBudget): T {
  if (current !== undefined) return compute();
  current = new StepBudget(limit, what);
  try {
    return compute();
  } finally {
    current = undefined;
  }
}

/** Spends `steps` from the open budget (none open: only the thread's count counts them, the caller bounds itself). */
export function spendSteps(steps = 1): void {
  spentInThread += steps;
  current?.spend(steps);
}

/**
 * The steps every schedule computation of this thread has spent so far: a caller that makes many
 * in one task (the leader settling a change of costly entries) turns the event loop over after so
 * many, counted as the budgets count, never by the clock.
 */
export function stepsSpent(): number {
  return spentInThread;
}

/**
 * The guard on every answer: a slot at or before the instant it must follow (`afterMs`, or the slot
 * before it) is a schedule that does not advance. Throws ScheduleError naming both instants.
 */
export function mustAdvance(slotMs: number, afterMs: number, what: () => string): void {
  if (slotMs > afterMs) return;
  throw new ScheduleError(
    ErrorCode.ScheduleStalled,
    `${what()} does not advance: after ${new Date(afterMs).toISOString()} it gave ${Number.isFinite(slotMs) ? new Date(slotMs).toISOString() : String(slotMs)}, ` +
      'not a later instant (a bug in tsbeat: please report it with the schedule and its time zone)',
  );
}
