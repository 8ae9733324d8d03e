/**
 * One entry as every reader sees it: `beat status --json`, `/status`, `GET /api/entries/NAME`'s
 * `view`, the dashboard's row (`RowWire.view`) and its page. Declared once, as a zod schema (the
 * HTTP API's OpenAPI document describes it from here), the type its `z.infer`; `buildStatus`
 * (control/status.ts) is the one place that fills it. A new field is this schema's line and
 * `buildStatus`'s: every reader then carries it (test/unit/entry-view.test.ts holds them to it).
 *
 * It imports zod alone: the dashboard's page (src/ui/) takes its type through dashboard/wire.ts.
 */
import * as z from 'zod';

/** An instant as status shows it: ISO 8601 with the entry's offset (or UTC's), to the millisecond when it has one. */
const instant = z.string();

/** A run's state: Celery's (celery/result-meta.ts CeleryState), or unknown (given up on: ports/outcomes.ts RunState). */
const runState = z.enum(['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'unknown']);

/** One task of a canvas run: where it is in the entry's canvas, its state, what it gave. */
const partViewSchema = z
  .object({
    /** `chain[1]`, `group[2].chain[0]`, `body`. */
    path: z.string(),
    task: z.string(),
    id: z.string(),
    state: runState,
    /** Its result is (part of) the run's: a chain's last task, a chord's body, a group member's last task. */
    final: z.boolean(),
    /** A final part's result once it succeeded, when kept. */
    result: z.unknown().optional(),
    /** The exception's first line, for a part that failed or was revoked. */
    exception: z.string().optional(),
  })
  .readonly();

/** A run's fields as `beat status`, `beat history` and `/status` show it: a slot (below) adds its attempts to them. */
const runView = {
  taskId: z.string(),
  state: runState,
  slot: instant,
  publishedAt: instant,
  /** When a worker was first seen running it (within a poll interval); null when no start was seen. */
  startedAt: instant.nullable(),
  /** When it reached its final state; null while it has not. */
  finishedAt: instant.nullable(),
  /** Seconds from publication (queue time included) to the finish; null until it finished. */
  runtimeSeconds: z.number().nullable(),
  /** The exception's first line (FAILURE, RETRY, REVOKED), else null. */
  exception: z.string().nullable(),
  /** How it was published: schedule, trigger (beat trigger) or backfill (beat backfill). */
  origin: z.enum(['schedule', 'trigger', 'backfill']),
  /** Set when tsbeat revoked the run (its overlap policy): cancelOther or terminateOther. */
  revokedBy: z.string().optional(),
  /** A canvas run's tasks, each with its state (absent for a run of one task). */
  parts: z.array(partViewSchema).readonly().optional(),
  /** A canvas run's result once SUCCESS (a chain's last task's, a chord body's, a group's list), when kept. */
  result: z.unknown().optional(),
};

/** A run as `beat status` and `/status` show it (control/run-view.ts builds it): times in the entry's zone. */
export const runViewSchema = z.object(runView).readonly();

/** One attempt of a slot, oldest first in its slot's `attempts`. */
const attemptViewSchema = z
  .object({
    taskId: z.string(),
    attempt: z.number().int().describe("1 for the slot's own run, 2 and on for its retries"),
    state: runView.state,
    publishedAt: runView.publishedAt,
    startedAt: runView.startedAt,
    finishedAt: runView.finishedAt,
    runtimeSeconds: runView.runtimeSeconds,
    exception: runView.exception,
  })
  .readonly();

/**
 * A slot: the fields of its last attempt's run (so `taskId`, `state`, `exception` and the times are
 * that attempt's: what became of the slot), and its attempts.
 */
export const slotViewSchema = z
  .object({
    ...runView,
    slotTaskId: z.string().describe("the slot's own task id (its first attempt's), from which each retry's id is derived"),
    attemptCount: z
      .number()
      .int()
      .describe(
        "attempts run, the first included: the last attempt's number (more than `attempts` holds once the first have left the history)",
      ),
    maxAttempts: z
      .number()
      .int()
      .nullable()
      .describe("its retry policy's attempts; null when not known (no policy, or read without the config)"),
    attempts: z.array(attemptViewSchema).readonly().describe('the attempts the history keeps, oldest first'),
  })
  .readonly();

export type SlotView = z.infer<typeof slotViewSchema>;
export type AttemptView = z.infer<typeof attemptViewSchema>;

/** A note given with an action: the text, who gave it, when (in the entry's zone). */
const noteSchema = { note: z.string(), by: z.string(), at: instant };

export const entryViewSchema = z
  .object({
    name: z.string(),
    /** Where it comes from: file (the config file), store (the runtime store), redbeat, django. */
    origin: z.enum(['file', 'store', 'redbeat', 'django']),
    /** Its labels (`labels`; RedBeat's and django's carry `source`); {} without any. */
    labels: z.record(z.string(), z.string()).readonly(),
    /** The task its message names: a canvas's first task. */
    task: z.string(),
    /** Its canvas in words (`chain: a → b → c`, `group(3): a, b, c`: config/canvas-words.ts); null for a plain task. */
    canvas: z.string().nullable(),
    /** The queue its messages go to, as the routes decide ('' when a route names an exchange and no queue). */
    queue: z.string(),
    /** The schedule in words. */
    schedule: z.string(),
    timezone: z.string(),
    enabled: z.boolean(),
    /** The tool that owns a runtime entry (`beat apply --owner`); null for one without. */
    owner: z.string().nullable(),
    paused: z.boolean(),
    /** Its pauseOnFailure: paused after this many failed runs in a row; null: never. */
    pauseOnFailure: z.number().nullable(),
    /** The last scheduled slot published; null before the first run. */
    lastSlot: instant.nullable(),
    lastPublishedAt: instant.nullable(),
    lastTaskId: z.string().nullable(),
    /** What the last run was: the slot `lastSlot` (schedule), or a manual run published at `lastPublishedAt` (trigger); null before any. */
    lastRunBy: z.enum(['schedule', 'trigger']).nullable(),
    runCount: z.number(),
    /** How many of `runCount` were manual runs; the rest were scheduled, and count against `maxRuns`. */
    manualRuns: z.number(),
    /** Its `maxRuns` (`oneOff` is 1); null without a limit. */
    maxRuns: z.number().nullable(),
    /** Its scheduled runs reached maxRuns: it runs no more unless maxRuns is raised. */
    finished: z.boolean(),
    startAt: instant.nullable(),
    endAt: instant.nullable(),
    /** The next slot; null when disabled, paused, finished, or the schedule has run out (or its endAt passed). */
    nextRun: instant.nullable(),
    /** The newest run, from its history; null without a resultBackend or taskEvents, or before the first run. */
    lastOutcome: runViewSchema.nullable(),
    /** The run that finished last (for an every-second entry `lastOutcome` is always the run in flight); null until one did. */
    lastFinished: runViewSchema.nullable(),
    lastSuccessAt: instant.nullable(),
    lastFailureAt: instant.nullable(),
    /** While paused: why, as its pause said (`beat pause --note`, pauseOnFailure); null without a note. */
    pauseNote: z.object(noteSchema).readonly().nullable(),
    /** The last note given with a pause, resume or trigger of it; null when none was. */
    lastNote: z
      .object({ action: z.enum(['pause', 'resume', 'trigger']), ...noteSchema })
      .readonly()
      .nullable(),
    /** Its runs are refused because of the entry alone: why, since when (UTC), how many attempts, the next one; null otherwise. */
    failing: z.object({ reason: z.string(), since: instant, attempts: z.number(), retryAt: instant }).readonly().nullable(),
    /** Nobody consumes its queue (the leader's consumer check): the queue, why, since when (UTC), the messages waiting when known. */
    unconsumed: z.object({ queue: z.string(), reason: z.string(), since: instant, depth: z.number().nullable() }).readonly().nullable(),
  })
  .readonly();

export type EntryView = z.infer<typeof entryViewSchema>;
