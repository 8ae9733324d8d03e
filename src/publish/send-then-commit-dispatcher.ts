/**
 * Publishing through a broker that is not Redis (RabbitMQ, SQS), with the state and the fence in
 * Redis: send, then commit. Such a broker cannot take part in a Redis script, so the Redis
 * transport's single atomic step becomes three:
 *
 *   1. claim  (claim-fenced.lua): fenced; which runs are newer than the stored state. Writes nothing.
 *   2. publish the fresh runs with publisher confirms.
 *   3. commit (commit-fenced.lua): fenced; records the CONFIRMED runs, slot forward only.
 *
 * A run whose publish was not confirmed is not recorded; `dispatch` records the rest. When the fault
 * is the run's own (returned as unroutable, nacked, its queue's declaration refused, the channel
 * closed on it alone: an exchange that does not exist, a message too large) it is 'refused' with the
 * reason, and the runner retries that entry alone on its own backoff; when it is the broker's
 * (connection lost with the confirm outstanding, confirm overdue) it is 'unsent' with a failure, and
 * the runner tries it again after its error backoff, per the missed-run policy.
 *
 * The guarantee: AT LEAST ONCE on the wire. A slot is never recorded without a confirm, so none is
 * lost; it can be published twice when the confirm was lost with the connection, or when the
 * leader was deposed (or Redis failed) between publish and commit. A duplicate carries the same
 * deterministic task id (uuid5 of entry and slot), so workers and result backends can drop it.
 */
import type { RedisClient } from '../redis/connect.js';
import type { TaskMessage } from '../celery/message.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { withScripts } from '../redis/scripts.js';
import { DEFAULTS } from '../base/defaults.js';
import { RetryPublishResult } from '../ports/outcomes.js';
import type { RunRecord } from '../ports/outcomes.js';
import { encodeRun } from '../redis/run-history-codec.js';
import { retryFencedKeys as retryScriptKeys } from '../redis/scripts.js';
import { TriggerResult } from '../ports/control-source.js';
import type { BackfillPublisher, BackfillStepCall, BackfillStepResult, TriggerPublisher } from '../ports/control-source.js';
import { RunCode, readBatchReply } from '../redis/fenced-replies.js';
import type { BatchReply } from '../redis/fenced-replies.js';
import { claimBackfillStep, publishConfirmedBackfill, sendRuns } from './confirmed-backfill.js';
import type { ConfirmingSender } from './confirmed-backfill.js';
import type { DispatchResult, Dispatcher, DueRun, PublishResult } from '../ports/dispatcher.js';
import type { AmqpSendResult } from '../amqp/transport.js';
import type { AmqpPublishPlan } from '../amqp/message.js';

export type { ConfirmingSender };

/**
 * How long a pending attempt (issue 70) is claimed for while a broker outside Redis (RabbitMQ,
 * SQS) sends it: no leader finds it due meanwhile (retry-fenced.lua 'claim'). Longer than a send
 * may take (a batch's confirms, amqp/transport.ts AMQP_CONFIRM_TIMEOUT_MS, then a resend one by
 * one; an SQS call, DEFAULTS.sqsRequestTimeoutMs); short enough that an attempt whose send failed,
 * or whose leader died before the commit, goes again a minute later.
 */
export const RETRY_CLAIM_MS = 60_000;

/** What to do about a manual run (or an attempt) the broker refused because of its entry. */
const TRIGGER_FIX = "mend the entry's route (its exchange, routing key or queue) or its message, then trigger it again";

/** The fresh runs by their confirms: `gap` says, per entry, why one of its runs was not confirmed. */
interface ByConfirm {
  /** Refused (the entry's own fault: it alone waits) or failed (the broker's). */
  readonly gap: ReadonlyMap<string, 'refused' | 'failed'>;
  /** Confirmed, before their entry's first unconfirmed run: recorded. */
  readonly confirmed: readonly DueRun[];
  /** Confirmed, after their entry's first unconfirmed run: on the broker, not recorded. */
  readonly heldBack: readonly DueRun[];
}

/**
 * Per entry, only the confirmed runs before its first unconfirmed one are recorded: recording a
 * later slot would mark the earlier, unsent one as done (the state only moves forward) and lose
 * it. The held-back runs are on the broker and go again on the retry, with the same task ids.
 */
function byConfirm(fresh: readonly DueRun[], results: readonly AmqpSendResult[]): ByConfirm {
  const gap = new Map<string, 'refused' | 'failed'>();
  const confirmed: DueRun[] = [];
  const heldBack: DueRun[] = [];
  fresh.forEach((run, i) => {
    const status = results[i]?.status;
    if (status !== 'confirmed') {
      if (gap.get(run.entry.name) !== 'failed')
        gap.set(run.entry.name, status === 'refused' || status === 'returned' ? 'refused' : 'failed');
    } else if (gap.has(run.entry.name)) heldBack.push(run);
    else confirmed.push(run);
  });
  return { gap, confirmed, heldBack };
}

export class SendThenCommitDispatcher<Plan = AmqpPublishPlan> implements Dispatcher, TriggerPublisher, BackfillPublisher {
  private readonly redis: ReturnType<typeof withScripts>;

  constructor(
    private readonly broker: ConfirmingSender<Plan>,
    private readonly state: RedisClient,
    private readonly keys: SchedulerKeys,
    private readonly logger: Logger,
    /** lock.maxClockSkew: the claim refuses slots further ahead of Redis's clock. */
    private readonly maxAheadMs: number,
  ) {
    this.redis = withScripts(state);
  }

  async dispatch(runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult> {
    const read = await this.claim(runs, token);
    if (read.kind === 'fenced') return { fenced: true };
    if (read.kind === 'stopped') return { fenced: false, stopped: true };
    if (read.kind === 'ahead') return { fenced: false, ahead: { redisMs: read.redisMs, slotMs: read.slotMs } };
    const fresh = runs.filter((_, i) => read.codes[i] === RunCode.Fresh);
    // The entry changed since it was read (see PublishResult 'superseded').
    const outcomes: PublishResult[] = runs.map((_, i) => (read.codes[i] === RunCode.Superseded ? 'superseded' : 'stale'));
    if (fresh.length === 0) return { fenced: false, outcomes };

    const results = await sendRuns(
      this.broker,
      fresh.map((r) => r.message),
    );
    const sent = byConfirm(fresh, results);
    if (sent.heldBack.length > 0)
      this.unrecorded(
        sent.heldBack.map((r) => r.message),
        'an earlier slot of the same entry was not confirmed',
      );
    if (sent.confirmed.length > 0 && !(await this.commit(sent.confirmed, token, nowMs))) return { fenced: true };
    return this.settle(runs, fresh, results, sent, outcomes);
  }

  /** Step 1 (claim-fenced.lua): which runs are newer than the stored state. Fenced; writes nothing. */
  private async claim(runs: readonly DueRun[], token: string): Promise<BatchReply> {
    const claimArgs = [
      token,
      String(this.maxAheadMs),
      String(runs.length),
      ...runs.flatMap((r) => [r.entry.name, String(r.slotMs), r.entry.revision ?? '']),
    ];
    const claim = await this.redis.claimFenced(4, this.keys.fence, this.keys.state, this.keys.entries, this.keys.stop, ...claimArgs);
    return readBatchReply(claim, runs.length);
  }

  /**
   * Step 3 (commit-fenced.lua): records the confirmed runs, slot forward only. False when this
   * instance lost the fence; throws (RedisUnavailable) when Redis failed. Either way the runs are
   * out on the broker, unrecorded, and said so.
   */
  private async commit(confirmed: readonly DueRun[], token: string, nowMs: number): Promise<boolean> {
    let reply: number[];
    try {
      const args = [
        token,
        String(nowMs),
        String(confirmed.length),
        ...confirmed.flatMap((r) => [r.entry.name, String(r.slotMs), r.message.id, r.entry.revision ?? '']),
      ];
      reply = await this.redis.commitFenced(3, this.keys.fence, this.keys.state, this.keys.entries, ...args);
    } catch (error) {
      this.unrecorded(
        confirmed.map((r) => r.message),
        `Redis failed: ${errorMessage(error)}`,
      );
      throw new BeatError(
        ErrorCode.RedisUnavailable,
        `${confirmed.length} confirmed messages could not be recorded: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    const committed = readBatchReply(reply, confirmed.length);
    if (committed.kind !== 'done') {
      this.unrecorded(
        confirmed.map((r) => r.message),
        'this instance lost the fence',
      );
      return false;
    }
    // Out on the broker, but their entries changed since the claim: their state is not written
    // (a deleted entry's must not come back), and the runner reads them again.
    const changed = confirmed.filter((_, i) => committed.codes[i] === RunCode.Superseded);
    if (changed.length > 0)
      this.unrecorded(
        changed.map((r) => r.message),
        'their entries were edited, deleted or created again meanwhile',
      );
    return true;
  }

  /** Each fresh run's outcome from its send result (the others keep the claim's), and the failure when some went unsent. */
  private settle(
    runs: readonly DueRun[],
    fresh: readonly DueRun[],
    results: readonly AmqpSendResult[],
    sent: ByConfirm,
    outcomes: PublishResult[],
  ): DispatchResult {
    const { gap, confirmed, heldBack } = sent;
    const byRun = new Map<DueRun, AmqpSendResult>(
      fresh.map((r, i) => [r, results[i] ?? { status: 'failed', error: new Error('no result') }]),
    );
    let firstFailure: string | undefined;
    let firstError: Error | undefined;
    let notSent = 0;
    const refusals = new Map<number, string>();
    const recorded = new Set(confirmed);
    runs.forEach((run, i) => {
      const result = byRun.get(run);
      if (result === undefined) return;
      if (result.status === 'confirmed') {
        // Held back: published but not recorded, so unsent as far as the state goes: tried again
        // (with the same task id) after the slot before it; with the entry's backoff when it was refused.
        if (recorded.has(run)) outcomes[i] = 'published';
        else if (gap.get(run.entry.name) === 'refused') {
          outcomes[i] = 'refused';
          refusals.set(i, 'an earlier slot of this entry was refused');
        } else outcomes[i] = 'unsent';
        return;
      }
      if (result.status === 'returned' || result.status === 'refused') {
        // This entry's fault alone: the runner marks it failing (and logs why, once) and retries it on its own backoff.
        outcomes[i] = 'refused';
        refusals.set(i, result.status === 'returned' ? `the broker returned it unroutable: ${result.reason}` : result.reason);
        return;
      }
      outcomes[i] = 'unsent';
      notSent += 1;
      firstFailure ??= `${run.entry.name}: ${result.error.message}`;
      firstError ??= result.error;
      this.publishError(run, result.error);
    });
    const refused = refusals.size === 0 ? {} : { refusals };
    if (notSent === 0) return { fenced: false, outcomes, ...refused };
    const failure = new BeatError(
      ErrorCode.BrokerPublish,
      `${notSent} of ${runs.length} runs not confirmed by the broker and not recorded (${confirmed.length} published and recorded${heldBack.length > 0 ? `, ${heldBack.length} published but held back behind an unconfirmed slot` : ''}); first: ${firstFailure ?? ''}`,
      { cause: firstError },
    );
    return { fenced: false, outcomes, failure, ...refused };
  }

  private publishError(run: DueRun, err: Error): void {
    this.logger.error(
      {
        event: EVENTS.publishError,
        entry: run.entry.name,
        task: run.entry.task,
        id: run.message.id,
        exchange: run.message.destination.exchange,
        routingKey: run.message.destination.routingKey,
        err,
      },
      'message not confirmed, not recorded; retried per the missed-run policy',
    );
  }

  /**
   * One manual run: claimed while pending, published with a confirm, then recorded and its request
   * removed. A message the broker refuses because of the entry alone (returned unroutable, the
   * channel closed on it) is refused as the Redis path refuses one: the request is removed (a retry
   * would meet the same), the CLI is told why, and the leader stays.
   */
  async publishTrigger(message: TaskMessage, requestText: string, token: string, nowMs: number, revision?: string): Promise<TriggerResult> {
    const claim = await this.redis.claimTrigger(3, this.keys.fence, this.keys.triggers, this.keys.stop, token, requestText);
    if (claim !== TriggerResult.Published) return claim;
    const [result] = await sendRuns(this.broker, [message]);
    const keys = [this.keys.fence, this.keys.state, this.keys.triggers, this.keys.triggered(message.id), this.keys.entries];
    const args = [token, String(nowMs), requestText, message.entry, message.id, revision ?? ''];
    if (result?.status === 'returned' || result?.status === 'refused') {
      const why = `${result.status === 'returned' ? `the broker returned it unroutable: ${result.reason}` : result.reason}; ${TRIGGER_FIX}`;
      const refused = await this.redis.commitTrigger(keys.length, ...keys, ...args, why);
      if (refused !== TriggerResult.Refused) return refused;
      throw new BeatError(ErrorCode.BrokerPublish, `manual run of "${message.entry}" (${message.id}) refused: ${why}`);
    }
    if (result?.status !== 'confirmed') {
      const reason = result === undefined ? 'no result' : result.error.message;
      // The request stays pending: the control loop tries again on its next wake-up.
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `manual run of "${message.entry}" (${message.id}) not confirmed by the broker: ${reason}`,
        {
          cause: result?.status === 'failed' ? result.error : undefined,
        },
      );
    }
    let committed: TriggerResult;
    try {
      committed = await this.redis.commitTrigger(keys.length, ...keys, ...args);
    } catch (error) {
      this.unrecorded([message], `Redis failed: ${errorMessage(error)}`);
      throw error;
    }
    if (committed === TriggerResult.Fenced) this.unrecorded([message], 'this instance lost the fence');
    // Superseded: out on the broker, but the entry changed since it was read: its state was not written.
    return committed === TriggerResult.Superseded ? TriggerResult.Published : committed;
  }

  /**
   * A slot's pending attempt (issue 70), as a manual run is sent: retry-fenced.lua claims it (the
   * checks of the Redis path; no leader finds it due for RETRY_CLAIM_MS), the broker
   * confirms it, and the script's commit takes it off the pending set. One the broker refuses for
   * its entry's fault is taken off too (it would be refused again); one not confirmed stays pending,
   * sent again when the claim ends. At least once: see the script's header.
   */
  async publishRetry(
    message: TaskMessage,
    member: string,
    revision: string | undefined,
    token: string,
    from: 'retries' | 'waiting' = 'retries',
    record?: RunRecord,
  ): Promise<RetryPublishResult> {
    // A waiting run of a concurrency group is published from Redis in one step, which this broker cannot take part in.
    if (from === 'waiting')
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `a waiting run of "${message.entry}" cannot be published through this broker: concurrency groups wait with the Redis broker only`,
      );
    const keys = retryScriptKeys(this.keys, message.entry, 'retries');
    const length = String(DEFAULTS.runHistoryLength);
    const claim = await this.redis.retryFenced(
      keys.length,
      ...keys,
      token,
      member,
      'claim',
      String(RETRY_CLAIM_MS),
      revision ?? '',
      '',
      length,
    );
    if (claim !== RetryPublishResult.Published) return claim as RetryPublishResult;
    const [result] = await sendRuns(this.broker, [message]);
    const what = `attempt of "${message.entry}" (${message.id})`;
    if (result?.status !== 'confirmed' && result?.status !== 'returned' && result?.status !== 'refused') {
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `${what} not confirmed by the broker: ${result === undefined ? 'no result' : result.error.message}; it stays pending and goes again in ${RETRY_CLAIM_MS / 1000} s`,
        { cause: result?.error },
      );
    }
    let committed: unknown;
    try {
      // Its PENDING record goes with the commit: a leader killed after it leaves the run to the next one to follow.
      const pending = result.status === 'confirmed' && record !== undefined ? encodeRun(record) : '';
      committed = await this.redis.retryFenced(keys.length, ...keys, token, member, 'commit', '', revision ?? '', pending, length);
    } catch (error) {
      if (result.status === 'confirmed') this.unrecorded([message], `Redis failed: ${errorMessage(error)}`);
      throw error;
    }
    if (committed === RetryPublishResult.Fenced) {
      // Still pending: the next leader sends it again (the same refusal, or a duplicate of the same task id).
      if (result.status === 'confirmed') this.unrecorded([message], 'this instance lost the fence');
      return RetryPublishResult.Fenced;
    }
    if (result.status !== 'confirmed') {
      const why = result.status === 'returned' ? `the broker returned it unroutable: ${result.reason}` : result.reason;
      throw new BeatError(ErrorCode.BrokerPublish, `${what} refused and dropped: ${why}; ${TRIGGER_FIX}`);
    }
    // 0 (no longer pending) cannot happen under the fence; the message is out either way.
    return RetryPublishResult.Published;
  }

  /** A step's slots classified, nothing written: what a backfill's overlap policy decides on. */
  claimBackfill(call: BackfillStepCall): Promise<BackfillStepResult> {
    return claimBackfillStep(this.state, this.keys, call);
  }

  /** One step of a backfill: claimed, sent with confirms, committed (confirmed-backfill.ts). */
  publishBackfill(call: BackfillStepCall): Promise<BackfillStepResult> {
    return publishConfirmedBackfill(this.state, this.broker, this.keys, (messages, why) => this.unrecorded(messages, why), call);
  }

  private unrecorded(messages: readonly TaskMessage[], why: string): void {
    this.logger.error(
      { event: EVENTS.publishUnrecorded, ids: messages.map((m) => m.id), entries: [...new Set(messages.map((m) => m.entry))] },
      `${messages.length} messages were confirmed by the broker but not recorded (${why}); they may be published again with the same task ids`,
    );
  }
}
