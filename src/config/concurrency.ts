/**
 * `concurrency` on an entry (issue 70): entries that name the same group share at most `limit` runs
 * in flight (published, not final); a run due while its group is full waits its turn (`whenFull:
 * wait`, in the order the runs came due, until its entry's catch-up window or
 * DEFAULTS.concurrencyWaitMs has passed, then it is recorded as missed) or is passed over at once
 * (`skip`). Entries of one group that say different limits share the smallest. tsbeat knows a run
 * is over only from its outcome source, so a group needs one (`concurrencyProblems`).
 */
import * as z from 'zod';
import { DEFAULTS } from '../base/defaults.js';
import { keyed } from './key-spelling.js';

/** A group's name: written into Redis members and metric labels, so a short plain word. */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
/** The most runs a group may hold in flight: past it a limit limits nothing a Redis list of workers could serve. */
const LIMIT_MAX = 10_000;

const groupError = 'concurrency.group must be a name of 1 to 100 letters, digits, "_", ".", ":" or "-", starting with a letter or digit';
const limitError = `concurrency.limit must be a whole number from 1 to ${LIMIT_MAX} (runs of the group in flight at once)`;

export const WHEN_FULL = ['wait', 'skip'] as const;

export const concurrencySchema = keyed({
  group: z.string({ error: groupError }).regex(GROUP_NAME, { error: groupError }),
  limit: z.number({ error: limitError }).int({ error: limitError }).min(1, { error: limitError }).max(LIMIT_MAX, { error: limitError }),
  whenFull: z
    .enum(WHEN_FULL, { error: 'concurrency.whenFull must be "wait" (the run waits its turn) or "skip" (it is passed over)' })
    .default('wait'),
});

/** An entry's group as resolved (ResolvedEntry.concurrency). */
export interface Concurrency {
  readonly group: string;
  readonly limit: number;
  readonly whenFull: (typeof WHEN_FULL)[number];
}

/** How long a run of `entry` may wait for its group: its catch-up window, else DEFAULTS.concurrencyWaitMs. */
export function concurrencyWaitMs(entry: { readonly catchUpWindowMs: number | undefined }): number {
  return entry.catchUpWindowMs ?? DEFAULTS.concurrencyWaitMs;
}

/**
 * Groups valid alone but not in this config, at the schema's paths: a run's place is freed when it
 * is known to be over, which needs runs followed (a resultBackend or `taskEvents: true`) and the
 * task's result (not `options.ignoreResult`); a waiting run is published later, from Redis, which
 * broker other than Redis cannot do (its publish cannot take part in the script); one group's entries must
 * say one limit.
 */
export function concurrencyProblems(
  entries: Readonly<
    Record<string, { readonly concurrency?: Concurrency | undefined; readonly options: { readonly ignoreResult?: boolean | undefined } }>
  >,
  outcomesFollowed: boolean,
  /** The broker's kind (broker-kinds.ts), by its two fields this reads: its import would close a cycle through resolve.ts. */
  broker?: { readonly label: string; readonly sharesRedis: boolean },
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const limits = new Map<string, { name: string; limit: number }>();
  for (const [name, entry] of Object.entries(entries)) {
    const group = entry.concurrency;
    if (group === undefined) continue;
    const path = ['beatSchedule', name, 'concurrency'];
    if (!outcomesFollowed)
      problems.push({
        path,
        message: `concurrency needs to know when each run is over, and this config follows no outcomes: set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E), or remove concurrency`,
      });
    else if (entry.options.ignoreResult === true)
      problems.push({
        path,
        message: "concurrency needs the task's result to know when a run is over, but options.ignoreResult is true; remove one of them",
      });
    if (group.whenFull === 'wait' && broker?.sharesRedis === false)
      problems.push({
        path: [...path, 'whenFull'],
        message: `concurrency.whenFull "wait" is not supported with an ${broker.label} broker yet: a waiting run is published later from Redis, which tsbeat does only through the Redis broker; set whenFull: skip, or use a Redis broker`,
      });
    const first = limits.get(group.group);
    if (first === undefined) limits.set(group.group, { name, limit: group.limit });
    else if (first.limit !== group.limit)
      problems.push({
        path: [...path, 'limit'],
        message: `group "${group.group}" has limit ${first.limit} on entry "${first.name}" and ${group.limit} here: one group, one limit; write the same limit on each of its entries`,
      });
  }
  return problems;
}
