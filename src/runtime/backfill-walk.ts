/**
 * One backfill request being worked through by the leader: its planned slots (those after the
 * last step's `through`), how far this leader got, and the steps themselves. Each step is one call
 * of the fenced backfill path (lua/backfill-fenced.lua): its slots, each with the task id its
 * schedule gives it (slotTaskId), the excluded slots it passes, and `through`, the last slot it
 * covers, written with it, so that a leader that dies between steps leaves the request pending and
 * the next one goes on after `through`. A slot may be held (the request's overlap policy): counted
 * as overlap, never published by the step, left passed over for a later backfill.
 */
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageTemplate } from '../celery/message.js';
import { slotTaskId } from '../celery/task-id.js';
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type {
  BackfillRequest,
  BackfillSlotOutcome,
  BackfillSource,
  BackfillStep,
  BackfillStepResult,
  TriggerPublisher,
} from '../ports/control-source.js';
import { checkedEntry } from './before-publish.js';
import type { BeforePublish } from './before-publish.js';
import type { RunRevoked } from '../ports/events.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { Revoker } from '../ports/revoker.js';

export interface BackfillWorkOptions {
  readonly config: ResolvedConfig;
  readonly source: BackfillSource;
  readonly publisher: TriggerPublisher;
  readonly messageEnv: MessageEnv;
  readonly logger: Logger;
  readonly now: () => number;
  readonly lease: () => string | undefined;
  readonly findEntry: (name: string) => ResolvedEntry | undefined;
  /** Which entries have a run in flight (the outcome tracker); undefined: this instance follows no outcomes. */
  readonly running?: RunningRuns | undefined;
  /** Celery's remote control, for cancelOther and terminateOther (undefined on SQS). */
  readonly revoker?: Revoker | undefined;
  /** Told of each revoke those policies sent (the tracker marks the run; metrics count it). */
  readonly revoked?: ((revoke: RunRevoked) => void) | undefined;
  /**
   * Told that a backfill of this entry waits for the entry's run in flight to finish (bufferAll,
   * bufferOne's kept slot), as soon as that is decided: the control loop looks again when it does.
   */
  readonly waitsFor?: ((entry: string) => void) | undefined;
  /** A step after a walk's first of an entry of its origins is checked first (the first is checked before the walk is planned). */
  readonly beforePublish?: BeforePublish | undefined;
}

/** What a step does with a slot that would run: publish it, or hold it (overlap). */
export type SlotChoice = 'publish' | 'hold';

/** A step's or a claim's end: 'fenced' (this instance stopped leading), 'stopped' (withdrawn, superseded, refused), or each slot's outcome. */
export type StepEnd = 'fenced' | 'stopped' | readonly BackfillSlotOutcome[];

export class BackfillWalk {
  /** Index into `slots` of the next slot to cover. */
  next = 0;
  private nextExcluded = 0;
  /** A step was taken: the next is checked first (beforePublish). */
  private stepped = false;
  /** The last slot covered so far (the request's `through`; before its first slot when nothing was). */
  private coveredMs: number;
  /** True once the request's last step is written (it is done). */
  finished = false;
  readonly counts: Record<BackfillSlotOutcome, number> = { published: 0, recorded: 0, ahead: 0, unrecorded: 0, overlap: 0 };
  private readonly template: MessageTemplate;

  constructor(
    private readonly o: BackfillWorkOptions,
    readonly text: string,
    readonly request: BackfillRequest,
    readonly entry: ResolvedEntry,
    /** The slots left to cover, ascending (after `through`), and the excluded ones left. */
    readonly slots: readonly number[],
    private readonly excluded: readonly number[],
    private readonly total: number,
    private readonly through: number | undefined,
  ) {
    this.coveredMs = through ?? request.fromMs - 1;
    this.template = compileMessageTemplate(entry, o.config, o.messageEnv);
  }

  /** The number of excluded slots left. */
  get excludedLeft(): number {
    return this.excluded.length;
  }

  /** The task id the schedule gives a slot. */
  taskId(slotMs: number): string {
    return slotTaskId(this.o.config.name, this.entry.name, slotMs);
  }

  /**
   * Covers the next `count` slots in one step; `choose` says which of those that would run go out
   * (all, by default). `kept`: bufferOne kept the slot after them (the progress says so).
   */
  async step(count: number, choose: (index: number) => SlotChoice = () => 'publish', kept = false): Promise<StepEnd> {
    const { o, request, entry } = this;
    // Changed or deleted since the walk was planned: it stops here, and is planned again as the entry is now.
    if (this.stepped && (await checkedEntry(o.beforePublish, entry, o.findEntry)) !== entry) return this.ended({ kind: 'superseded' });
    this.stepped = true;
    const token = o.lease();
    if (token === undefined) return 'fenced';
    const built = this.build(count, choose, kept);
    const result = await o.publisher.publishBackfill?.({
      entry: entry.name,
      step: built.step,
      request: { text: this.text, id: request.id, unrecorded: request.unrecorded },
      token,
      nowMs: built.now,
      revision: entry.revision,
    });
    const end = await this.ended(result);
    if (typeof end === 'string') return end;
    for (const outcome of end) this.counts[outcome] += 1;
    this.next += built.step.runs.length;
    this.nextExcluded += built.step.excluded;
    this.coveredMs = built.step.throughMs;
    if (built.step.last) this.finished = true;
    return end;
  }

  /** How the next `count` slots would fare, nothing written (a claim). */
  async claim(count: number): Promise<StepEnd> {
    const { o, request, entry } = this;
    const token = o.lease();
    if (token === undefined) return 'fenced';
    const claim = o.publisher.claimBackfill?.bind(o.publisher);
    if (claim === undefined) return this.ended({ kind: 'refused', reason: 'this broker cannot classify the slots of a backfill' });
    const { step, now } = this.build(count, () => 'publish', false);
    const ref = { text: this.text, id: request.id, unrecorded: request.unrecorded };
    return this.ended(await claim({ entry: entry.name, step, request: ref, token, nowMs: now, revision: entry.revision }));
  }

  private build(count: number, choose: (index: number) => SlotChoice, kept: boolean): { step: BackfillStep; now: number } {
    const { request } = this;
    const chunk = this.slots.slice(this.next, this.next + count);
    const last = this.next + chunk.length >= this.slots.length;
    // The step covers the excluded slots up to its last slot (all that are left, on the last step).
    const throughMs = last
      ? Math.max(request.toMs, this.through ?? request.toMs)
      : chunk.length > 0
        ? (chunk[chunk.length - 1] as number)
        : this.coveredMs;
    let passed = 0;
    while (this.nextExcluded + passed < this.excluded.length && (this.excluded[this.nextExcluded + passed] as number) <= throughMs)
      passed += 1;
    const now = this.o.now();
    const runs = chunk.map((slotMs, i) => ({
      slotMs,
      message: renderTaskMessage(this.template, { taskId: this.taskId(slotMs), slotMs, nowMs: now }),
      ...(choose(i) === 'hold' ? { overlap: true } : {}),
    }));
    return { step: { runs, excluded: passed, throughMs, total: this.total, last, ...(kept ? { kept } : {}) }, now };
  }

  private async ended(result: BackfillStepResult | undefined): Promise<StepEnd> {
    const { o, request, entry } = this;
    if (result === undefined) return this.ended({ kind: 'refused', reason: 'this broker has no fenced path for a backfill' });
    if (result.kind === 'done') return result.outcomes;
    // Stopped (beat pause --all): the request stays pending, as when this instance stops leading.
    if (result.kind === 'fenced' || result.kind === 'deploymentStopped') return 'fenced';
    if (result.kind === 'withdrawn' || result.kind === 'superseded') {
      o.logger.info(
        { event: EVENTS.backfill, entry: entry.name, id: request.id, outcome: result.kind, ...this.counts },
        result.kind === 'withdrawn'
          ? 'backfill withdrawn by its requester (or finished by another leader): stopped'
          : 'backfill waits: the entry changed since it was read',
      );
      return 'stopped';
    }
    // Removed already on Redis (by the step that found it); on RabbitMQ and SQS only here. Either way its reason is kept for the requester.
    o.logger.warn({ event: EVENTS.backfill, entry: entry.name, id: request.id, ...this.counts }, `backfill refused: ${result.reason}`);
    await o.source.refuseBackfill(this.text, request.id, result.reason, o.now());
    return 'stopped';
  }
}
