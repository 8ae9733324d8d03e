/**
 * The overlap policy of a backfill (`beat backfill --overlap`), as Temporal's BackfillRequest
 * carries an overlap_policy that overrides the schedule's for that request (unspecified: the
 * schedule's own). Temporal buffers a backfill's starts and resolves them in order against
 * whether a run is in flight (its scheduler's ProcessBuffer); so does the leader here: the range's
 * slots are taken in order as if each came due in turn, each policy meaning what it means for
 * scheduled runs. Pure: whether a run is in flight, and the request's progress, are arguments.
 */

/** The policies a backfill takes: the entry's, with `allow` spelled as Temporal's AllowAll. */
export const BACKFILL_OVERLAPS = ['allowAll', 'skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther'] as const;
export type BackfillOverlap = (typeof BACKFILL_OVERLAPS)[number];

export const isBackfillOverlap = (value: unknown): value is BackfillOverlap =>
  typeof value === 'string' && (BACKFILL_OVERLAPS as readonly string[]).includes(value);

/** The policy a request runs under: the one it names, else the entry's own (its `allow` is allowAll). */
export function backfillOverlap(requested: BackfillOverlap | undefined, entryPolicy: string): BackfillOverlap {
  if (requested !== undefined) return requested;
  return entryPolicy === 'allow' || !isBackfillOverlap(entryPolicy) ? 'allowAll' : entryPolicy;
}

/** Every policy but allowAll asks whether the entry's previous run finished: it needs run outcomes. */
export const needsOutcomes = (policy: BackfillOverlap): boolean => policy !== 'allowAll';

export const revokesPrevious = (policy: BackfillOverlap): policy is 'cancelOther' | 'terminateOther' =>
  policy === 'cancelOther' || policy === 'terminateOther';

/** What the leader knows as it takes a request's next step. */
export interface PaceState {
  /** The entry has a run not finished (the schedule's, a trigger's or this backfill's). */
  readonly inFlight: boolean;
  /** Slots this request published so far. */
  readonly published: number;
  /** bufferOne found a run in flight at the request's first slot that would run, and kept that slot. */
  readonly kept: boolean;
}

/**
 * The next step of a request under a policy other than allowAll:
 * - `wait`: a run is in flight and the next slot waits for it (bufferAll, bufferOne's kept slot):
 *   no step now; the next wake-up asks again.
 * - `hold`: every slot of the step that would run is held (skip with a run in flight; bufferOne
 *   once its two runs, or its kept one, went out): counted as overlap, left passed over.
 * - `first`: the step's first slot that would run is published; the later ones are held
 *   (`then: 'hold'`) or left for a later step (`then: 'stop'`: bufferAll, and bufferOne's first).
 * - `keep`: bufferOne with a run in flight: the slots before the first that would run are covered
 *   and that slot is kept (the progress says so), to be published once the run finished.
 * - `last`: cancelOther, terminateOther: of several slots due at once only the last runs, after
 *   the run in flight is revoked (as the schedule does, and Temporal's ProcessBuffer); the others are held.
 */
export type PaceStep =
  | { readonly kind: 'wait' }
  | { readonly kind: 'hold' }
  | { readonly kind: 'first'; readonly then: 'hold' | 'stop' }
  | { readonly kind: 'keep' }
  | { readonly kind: 'last' };

export function paceStep(policy: Exclude<BackfillOverlap, 'allowAll'>, s: PaceState): PaceStep {
  switch (policy) {
    case 'skip':
      return s.inFlight ? { kind: 'hold' } : { kind: 'first', then: 'hold' };
    case 'bufferAll':
      return s.inFlight ? { kind: 'wait' } : { kind: 'first', then: 'stop' };
    case 'bufferOne': {
      // In turn: the first slot runs at once (or is kept, with a run in flight), the next is kept
      // while that one runs, the rest are passed over: two runs, or one when the first was kept.
      if (s.published >= (s.kept ? 1 : 2)) return { kind: 'hold' };
      if (s.published === 0 && !s.kept) return s.inFlight ? { kind: 'keep' } : { kind: 'first', then: 'stop' };
      return s.inFlight ? { kind: 'wait' } : { kind: 'first', then: 'hold' };
    }
    case 'cancelOther':
    case 'terminateOther':
      return { kind: 'last' };
  }
}
