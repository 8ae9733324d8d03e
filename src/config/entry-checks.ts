/**
 * The checks of a runtime entry's definition that a write makes (redis/entry-store.ts): the schema
 * and its limits, the queue name, the schedule's cost (schedule-cost.ts). Pure: one home for them,
 * whether a write runs them in its own process or `beat run` on its worker thread
 * (src/entry-check-worker.ts, started by service/entry-check-pool.ts), where the schema's rrule
 * checks and the schedules' cost, up to hundreds of milliseconds an entry, never hold the
 * scheduler's loop. Paths are relative to the entry (`schedule`, `options.queue`).
 */
import type { ConfigProblem } from '../base/errors.js';
import { parseEntryDefinition } from './entry-definition.js';
import type { EntryLimits } from './entry-definition.js';
import { formatPath } from './problems.js';
import { queueNameProblems } from './queue-names.js';
import type { QueueNameContext } from './queue-names.js';
import { ScheduleCosts } from './schedule-cost.js';
import type { ScheduleCostContext } from './schedule-cost.js';

/** What an entry is checked against: the deployment's queue names (none: not checked) and its schedules' defaults. */
export interface EntryCheckContext {
  readonly queueNames: QueueNameContext | undefined;
  readonly costs: ScheduleCosts;
}

/** The problems of one definition (empty: it may be written), in the order a write names them. */
export function entryDefinitionProblems(name: string, value: unknown, context: EntryCheckContext): ConfigProblem[] {
  const parsed = parseEntryDefinition(value);
  if (!parsed.ok) return parsed.problems;
  const problems =
    context.queueNames === undefined
      ? []
      : queueNameProblems(parsed.entry, context.queueNames).map((p) => ({ path: formatPath(p.path), message: p.message }));
  const costly = context.costs.problem(name, value, parsed.entry);
  if (costly !== undefined) problems.push(costly);
  return problems;
}

/** One definition to check elsewhere, as written. */
export interface EntryCheckItem {
  readonly name: string;
  readonly entry: unknown;
}

/** The checks of a write's definitions, as sent to an EntryChecker: their context, and the time they may take. */
export interface EntryCheckJob {
  readonly schedules: ScheduleCostContext;
  readonly queueNames: QueueNameContext | undefined;
  /** The limits parseEntryDefinition applies where the write is made (setEntryLimits). */
  readonly limits: EntryLimits;
  readonly items: readonly EntryCheckItem[];
  /** Time the checks may take, ms: past it the items left are not checked. */
  readonly allowanceMs: number;
}

/** The problems of each item checked, in order; fewer than the items when the allowance ran out. */
export type EntryCheckOutcomes = readonly (readonly ConfigProblem[])[];

/** What checks a write's definitions away from the caller's event loop (service/entry-check-pool.ts: a worker thread). */
export interface EntryChecker {
  check(job: EntryCheckJob): Promise<EntryCheckOutcomes>;
}

/**
 * An EntryCheckJob's computation, where it runs (the worker thread, which has set the job's
 * limits): each item in order, until `elapsedMs` (the time the checks took so far, read before
 * each) passes the allowance. `done` hands each item's problems over as they are known, so that a
 * caller that stops the computation keeps what it found.
 */
export function checkEntries(job: EntryCheckJob, elapsedMs: () => number, done: (problems: readonly ConfigProblem[]) => void): void {
  const context = { queueNames: job.queueNames, costs: new ScheduleCosts(job.schedules) };
  for (const item of job.items) {
    if (elapsedMs() > job.allowanceMs) return;
    done(entryDefinitionProblems(item.name, item.entry, context));
  }
}

/** The parts of a job a pool posts to its worker thread (src/entry-check-worker.ts): the job without its items, then its items in chunks. */
export type EntryCheckRequest =
  | { readonly id: number; readonly job: Omit<EntryCheckJob, 'items'> }
  | { readonly id: number; readonly items: readonly EntryCheckItem[]; readonly last: boolean };

/**
 * What the thread posts back: `ready` once it is loaded (id 0), then for a job the problems of its
 * next items, and `done`, or the error that stopped it.
 */
export interface EntryCheckReply {
  readonly id: number;
  readonly outcomes: EntryCheckOutcomes;
  readonly ready?: true;
  readonly done?: true;
  readonly error?: string;
}
