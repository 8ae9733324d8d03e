/**
 * The backfill verbs, once for `beat backfill` and `POST /api/entries/NAME/backfill` (the dashboard's
 * too): planned backfills queued for the leader with their audit event (one each, or the selection's
 * one), then their progress waited for. The leader publishes each slot through backfill-fenced.lua,
 * which checks the deployment-wide stop in the step that publishes. Which entry a name means and
 * what the range plans to (control/backfill-request.ts) is the door's to say.
 */
import { newBackfillRequest } from '../control/backfill-request.js';
import type { BackfillInput, BackfillPlan, BackfillProgress } from '../control/backfill-request.js';
import type { ControlStore } from '../redis/control-store.js';
import type { ScopedEntry } from '../core/grants.js';
import { auditBy, authorize } from './operator.js';
import type { Operator } from './operator.js';

/** A backfill queued for the leader: its id, and its request's text (what withdraws it). */
export interface QueuedBackfill {
  readonly entry: string;
  readonly id: string;
  readonly text: string;
}

/**
 * Queues the planned backfills of `input`'s range in one MULTI with their audit (the selection's one
 * event with `selector`), when the caller may operate every entry of them (`scoped`: their owners
 * and labels as the door found them; needed when the operator has grants).
 */
export async function queueBackfills(
  control: Pick<ControlStore, 'requestBackfills'>,
  by: Operator,
  planned: readonly { readonly entry: string; readonly plan: BackfillPlan; readonly scoped?: ScopedEntry }[],
  input: BackfillInput,
  selector: string | undefined,
  nowMs: number,
): Promise<QueuedBackfill[]> {
  const grant = authorize(
    by,
    'operate',
    planned.map((p) => p.scoped ?? { name: p.entry }),
  );
  const requests = planned.map(({ entry, plan }) => newBackfillRequest(entry, input, plan, nowMs, by.note));
  const texts = await control.requestBackfills(requests, selector, auditBy(by, grant));
  return requests.map((r, i) => ({ entry: r.entry, id: r.id, text: texts[i] ?? '' }));
}

/**
 * The backfill's progress once the leader is done, or when `waitMs` is over (on the monotonic
 * clock): then withdrawn with `withdraw` (the CLI) unless the leader took it meanwhile, else left
 * queued (the API answers 202 and its progress route reads on). `onProgress` hears each reading.
 */
export async function awaitBackfill(
  control: Pick<ControlStore, 'backfillProgress' | 'cancelBackfill'>,
  run: QueuedBackfill,
  options: { readonly waitMs: number; readonly withdraw: boolean; readonly onProgress?: (p: BackfillProgress) => void },
): Promise<BackfillProgress | undefined> {
  const deadline = performance.now() + options.waitMs;
  let progress = await control.backfillProgress(run.id);
  while (progress?.doneMs === undefined && performance.now() < deadline) {
    if (progress !== undefined) options.onProgress?.(progress);
    await new Promise((resolve) => setTimeout(resolve, 100));
    progress = await control.backfillProgress(run.id);
  }
  if (progress?.doneMs === undefined && options.withdraw && !(await control.cancelBackfill(run.text)))
    progress = await control.backfillProgress(run.id);
  return progress;
}
