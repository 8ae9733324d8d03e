/**
 * An entry's history by slot (issue 70), as `beat history`, GET /api/entries/NAME/history, the
 * TypeScript client and the dashboard's entry page show it: a slot's run and its retry attempts
 * (core/retry.ts) are one row, whose state is its last attempt's, carrying each attempt. The
 * history keeps each attempt as a run of its own (ports/outcomes.ts RunRecord `attempt`,
 * `retryOf`); `slotsOf` is the one place that groups them. Its shape is entry-view-schema.ts's slotViewSchema. Pure.
 */
import type { RunRecord } from '../ports/outcomes.js';
import type { SlotView } from './entry-view-schema.js';
import { runView } from './run-view.js';

/** The attempt a run is of its slot: 1 for the slot's own run (a record without `attempt`). */
const attemptOf = (r: RunRecord): number => r.attempt ?? 1;

/**
 * `records` (an entry's history, newest first) by slot, newest slot first (by its oldest attempt
 * kept: the order the slots were first published), each slot's runs oldest attempt first. A retry
 * joins the slot of its `retryOf` (its slot's own task id), else, written without one, the latest
 * slot of its `slotMs`; one whose slot's own run has left the history still makes a slot of its own.
 */
export function slotsOf(records: readonly RunRecord[]): RunRecord[][] {
  const slots: RunRecord[][] = [];
  const byTask = new Map<string, RunRecord[]>();
  const bySlotMs = new Map<number, RunRecord[]>();
  // Oldest first: a slot's own run comes before its retries.
  for (let i = records.length - 1; i >= 0; i -= 1) {
    const r = records[i]!;
    const key = attemptOf(r) <= 1 ? r.taskId : r.retryOf;
    let slot = attemptOf(r) <= 1 ? undefined : key === undefined ? bySlotMs.get(r.slotMs) : byTask.get(key);
    if (slot === undefined) {
      slot = [];
      slots.push(slot);
      if (key !== undefined) byTask.set(key, slot);
      bySlotMs.set(r.slotMs, slot);
    }
    slot.push(r);
  }
  for (const slot of slots) slot.sort((a, b) => attemptOf(a) - attemptOf(b));
  return slots.reverse();
}

/** The attempts of one slot (its runs, oldest attempt first, as `slotsOf` gives them) as a slot's row. */
export function slotView(runs: readonly RunRecord[], zone: string, maxAttempts: number | undefined): SlotView {
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  return {
    ...runView(last, zone),
    // How the slot came to be published is its own run's: a retry is the leader's.
    origin: first.origin ?? 'schedule',
    slotTaskId: first.retryOf ?? first.taskId,
    attemptCount: attemptOf(last),
    maxAttempts: maxAttempts ?? null,
    attempts: runs.map((r) => {
      const v = runView(r, zone);
      return {
        taskId: v.taskId,
        attempt: attemptOf(r),
        state: v.state,
        publishedAt: v.publishedAt,
        startedAt: v.startedAt,
        finishedAt: v.finishedAt,
        runtimeSeconds: v.runtimeSeconds,
        exception: v.exception,
      };
    }),
  };
}

/** An entry's history (newest first) as its slots, newest first, at most `limit`, their times in `zone`. */
export function slotViews(records: readonly RunRecord[], zone: string, maxAttempts: number | undefined, limit: number): SlotView[] {
  return slotsOf(records)
    .slice(0, limit)
    .map((runs) => slotView(runs, zone, maxAttempts));
}

/** "3/3" (attempts run of those its policy allows), "2" when the policy is not known. */
export function attemptsText(slot: Pick<SlotView, 'attemptCount' | 'maxAttempts'>): string {
  return slot.maxAttempts === null ? String(slot.attemptCount) : `${slot.attemptCount}/${slot.maxAttempts}`;
}
