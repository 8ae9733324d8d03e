/**
 * A canvas run's outcome made of its parts' (RunRecord.parts): a failure anywhere is the run's
 * failure, named (the first failed part in the order the canvas runs: Celery's backend marks a
 * chain's later steps failed with the same exception, so the first is the one that raised); the run
 * succeeds when every final part (a chain's last task, a chord's body, each group member's last
 * task) has; otherwise its first final part that ended otherwise (REVOKED, unknown) gives its state.
 * Until then it is STARTED once any part has moved, and `unknown` past the timeout. Pure: the time
 * is an argument.
 */
import type { ResultMeta, RunPart, RunRecord, RunState } from '../ports/outcomes.js';
import { isFinal } from '../ports/outcomes.js';
import { DEFAULTS } from '../base/defaults.js';

/**
 * What a part's record keeps of its result: a final part's success, JSON text within the bound; a
 * failed or revoked part's exception (its first line, as the run's), so each part says what it did.
 */
function keptResult(part: RunPart, meta: ResultMeta): { result: string } | { exception: string } | undefined {
  if ((meta.state === 'FAILURE' || meta.state === 'REVOKED') && meta.exception !== undefined) return { exception: meta.exception };
  if (!part.final || meta.state !== 'SUCCESS' || meta.result === undefined) return undefined;
  const text = JSON.stringify(meta.result);
  return text.length <= DEFAULTS.canvasPartResultMaxChars ? { result: text } : undefined;
}

/**
 * The run's result from its final parts': a group's (any final part inside a `group[…]`) the list
 * of its members', in order; else the one final part's. Undefined when one was not kept.
 */
function runResult(parts: readonly RunPart[]): string | undefined {
  const finals = parts.filter((p) => p.final);
  if (finals.some((p) => p.result === undefined)) return undefined;
  if (finals.some((p) => p.path.includes('group['))) return `[${finals.map((p) => p.result).join(',')}]`;
  return finals.length === 1 ? finals[0]?.result : undefined;
}

/** The failing part as a run's exception names it: `chain[1] tasks.fail (id …): ValueError: boom`. */
export function failedPartText(part: RunPart, exception: string | undefined): string {
  return `${part.path} ${part.task} (${part.id}) failed${exception === undefined ? '' : `: ${exception}`}`;
}

/**
 * A canvas run's record after reading its parts' results (`metas`, one per part in order,
 * undefined where there is no news) at `nowMs`; the same object when nothing changed. A part's
 * final state stands, and so does a final run's.
 */
export function advanceParts(record: RunRecord, metas: readonly (ResultMeta | undefined)[], nowMs: number, timeoutMs: number): RunRecord {
  if (isFinal(record.state)) return record;
  const parts = record.parts ?? [];
  let changed = false;
  const next: RunPart[] = parts.map((part, i) => {
    const meta = metas[i];
    if (meta === undefined || meta.state === 'PENDING' || isFinal(part.state) || meta.state === part.state) return part;
    changed = true;
    return { ...part, state: meta.state, ...keptResult(part, meta) };
  });
  const doneAt = (): number => {
    const times = metas.map((m) => m?.doneAtMs).filter((t): t is number => t !== undefined);
    return times.length === 0 ? nowMs : times.reduce((a, b) => Math.max(a, b));
  };
  const ended = (state: RunState, exception: string | undefined): RunRecord => {
    const finishedAtMs = doneAt();
    const { exception: _earlier, ...rest } = record;
    const result = state === 'SUCCESS' ? runResult(next) : undefined;
    return {
      ...(result === undefined ? {} : { result }),
      ...rest,
      parts: next,
      state,
      finishedAtMs,
      runtimeMs: Math.max(0, finishedAtMs - record.publishedAtMs),
      ...(exception === undefined ? {} : { exception }),
    };
  };
  const failed = next.findIndex((p) => p.state === 'FAILURE');
  if (failed >= 0) return ended('FAILURE', failedPartText(next[failed] as RunPart, metas[failed]?.exception));
  const finals = next.filter((p) => p.final);
  if (finals.length > 0 && finals.every((p) => isFinal(p.state))) {
    const other = finals.find((p) => p.state !== 'SUCCESS');
    const at = other === undefined ? -1 : next.indexOf(other);
    return ended(other?.state ?? 'SUCCESS', other === undefined ? undefined : metas[at]?.exception);
  }
  if (nowMs - record.publishedAtMs > timeoutMs) return { ...record, parts: next, state: 'unknown', finishedAtMs: nowMs, lost: true };
  const moved = next.some((p) => p.state !== 'PENDING');
  if (moved && record.state === 'PENDING') return { ...record, parts: next, state: 'STARTED', startedAtMs: record.startedAtMs ?? nowMs };
  return changed ? { ...record, parts: next } : record;
}
