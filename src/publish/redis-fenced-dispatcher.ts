/**
 * Publishing through the Redis broker with the exactly-once guarantee: the broker plans each
 * message's deliveries (queue lists, bindings, priority steps), then one Lua script checks the fence,
 * checks that each slot is newer than the stored one, pushes, and moves the state forward, all or
 * nothing. A deposed leader cannot publish, and no slot is published twice, even with two
 * instances racing.
 */
import { withoutCommandArgs } from '../kombu/redis-transport.js';
import type { RedisTransport } from '../kombu/redis-transport.js';
import type { RedisPublishPlan } from '../kombu/redis-transport.js';
import type { ScriptArg } from '../kombu/redis-envelope.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { DispatchResult, Dispatcher, DueRun, PublishResult } from '../ports/dispatcher.js';
import type { RetryPublishResult, RunRecord } from '../ports/outcomes.js';
import { encodeRun } from '../redis/run-history-codec.js';
import { DEFAULTS } from '../base/defaults.js';
import { backfillScriptHead, claimBackfillStep, stepFlag } from './confirmed-backfill.js';
import type { BackfillPublisher, BackfillStepCall, BackfillStepResult, TriggerPublisher, TriggerResult } from '../ports/control-source.js';
import type { TaskMessage } from '../celery/message.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { typedKeys } from '../redis/keys.js';
import { publishedStateAfterSlotFrom, publishedStateHead } from '../redis/entry-state-codec.js';
import { revisionIncarnation } from '../ports/entry-source.js';
import { retryFencedKeys as retryScriptKeys, withScripts } from '../redis/scripts.js';
import { nameWrongType } from '../redis/server-errors.js';
import { RunCode, readBackfillReply, readBatchReply, readTriggerReply } from '../redis/fenced-replies.js';

/** The payloads of one list or channel in a batch, and the runs they belong to (for stale runs). */
class DeliveryGroup {
  private readonly runs: number[] = [];
  private readonly payloads: ScriptArg[] = [];

  add(run: number, payload: ScriptArg): void {
    this.runs.push(run);
    this.payloads.push(payload);
  }

  /** Appends the group as the script reads it: kind, target, run numbers, count, payloads. */
  write(args: ScriptArg[], kind: 'list' | 'channel', target: string): void {
    args.push(kind, target, this.runs.join(' '), String(this.payloads.length));
    for (const payload of this.payloads) args.push(payload);
  }
}

function groupOf(groups: Map<string, DeliveryGroup>, target: string): DeliveryGroup {
  let group = groups.get(target);
  if (group === undefined) {
    group = new DeliveryGroup();
    groups.set(target, group);
  }
  return group;
}

/**
 * The list keys each run of a plan pushes to (one key, as most runs have, or several), for
 * refusalsOf: what waits for the script's reply instead of the plan, whose messages would then
 * live until Redis answers (through young-generation collections, into the old generation).
 */
type PushKeys = readonly (string | readonly string[] | undefined)[];

function pushKeysOf(plan: RedisPublishPlan): PushKeys {
  return plan.messages.map((m) =>
    m.pushes.length === 1 ? m.pushes[0]?.key : m.pushes.length === 0 ? undefined : m.pushes.map((p) => p.key),
  );
}

/**
 * Why each refused run was refused: the script's reply lists, after the runs' codes, each queue key
 * that holds another type and that type. A run names the first of its keys among them.
 */
function refusalsOf(
  found: ReadonlyMap<string, string>,
  pushKeys: PushKeys,
  outcomes: readonly PublishResult[],
  /** Which runs carry a record revision of tsbeat's store (a runtime entry read from the entries hash). */
  recorded: readonly boolean[],
  entriesKey: string,
): Map<number, string> {
  const refusals = new Map<number, string>();
  const records = found.get(entriesKey);
  outcomes.forEach((outcome, i) => {
    if (outcome !== 'refused') return;
    const keys = pushKeys[i];
    const key = typeof keys === 'string' ? (found.has(keys) ? keys : undefined) : keys?.find((k) => found.has(k));
    refusals.set(
      i,
      key !== undefined
        ? `its queue key ${JSON.stringify(key)} holds a ${String(found.get(key))}, not a list (kombu's queues are Redis lists): route the entry to another queue, or remove that key if nothing else uses it`
        : records !== undefined && recorded[i] === true
          ? `the runtime entries' key ${entriesKey} holds a ${records}, not a hash: something else wrote it. Inspect it (TYPE, DUMP), then DEL ${entriesKey} and write the runtime entries again (beat entries import); the config file's entries run on`
          : 'an earlier slot of this entry was refused in the same batch',
    );
  });
  return refusals;
}

export class RedisFencedDispatcher implements Dispatcher, TriggerPublisher, BackfillPublisher {
  constructor(
    private readonly broker: RedisTransport,
    private readonly keys: SchedulerKeys,
    private readonly logger: Logger,
    /** lock.maxClockSkew: the script refuses slots further ahead of Redis's clock. */
    private readonly maxAheadMs: number,
  ) {}

  async dispatch(runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult> {
    const plan = await this.broker.plan(runs.map((r) => r.message));
    await this.broker.declare(plan);
    return this.publishPlan(plan, runs, token, nowMs);
  }

  /**
   * Sends the script (synchronously encoded) and returns its outcome. What waits for the reply is
   * only which runs had a delivery and the drops to report: a burst's messages die as soon as
   * their bytes are written, instead of surviving garbage collections in flight.
   */
  private publishPlan(plan: RedisPublishPlan, runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult> {
    const { keys, args, delivered } = this.scriptArguments(plan, runs, token, nowMs);
    return this.outcomeOf(this.broker.evalScript('publishFenced', keys, args), plan, runs, delivered);
  }

  /** The dispatch result of the script's reply. */
  private outcomeOf(
    reply: Promise<unknown>,
    plan: RedisPublishPlan,
    runs: readonly DueRun[],
    delivered: readonly boolean[],
  ): Promise<DispatchResult> {
    const count = delivered.length;
    const dropped = plan.dropped.length === 0 ? undefined : this.dropReports(plan, runs, delivered);
    // Neither the plan nor the runs wait for the reply (see PushKeys).
    const pushKeys = pushKeysOf(plan);
    const recorded = runs.map((r) => /^\d+$/.test(r.entry.revision ?? ''));
    return reply.then(
      (reply): DispatchResult => {
        const read = readBatchReply(reply as unknown[], count);
        if (read.kind === 'fenced') return { fenced: true };
        if (read.kind === 'stopped') return { fenced: false, stopped: true };
        if (read.kind === 'ahead') return { fenced: false, ahead: { redisMs: read.redisMs, slotMs: read.slotMs } };
        // Fresh runs moved their state forward; a fresh run with no delivery matched no queue.
        const outcomes = delivered.map((d, i): PublishResult => {
          const code = read.codes[i];
          if (code === RunCode.Fresh) return d ? 'published' : 'dropped';
          return code === RunCode.Superseded ? 'superseded' : code === RunCode.Refused ? 'refused' : 'stale';
        });
        outcomes.forEach((outcome, i) => {
          const report = dropped?.get(i);
          if (outcome === 'dropped' && report) this.logger.error(report.fields, report.message);
        });
        if (read.wrongTypes.size === 0) return { fenced: false, outcomes };
        return { fenced: false, outcomes, refusals: refusalsOf(read.wrongTypes, pushKeys, outcomes, recorded, this.keys.entries) };
      },
      async (error: unknown) => {
        throw await this.failure(`publishing ${count} runs`, error);
      },
    );
  }

  /**
   * A failed script as the operator must read it: Redis's refusal with its fix, naming the key a
   * WRONGTYPE is about (the server names only the script's hash), else a failed publish.
   */
  private async failure(what: string, error: unknown): Promise<BeatError> {
    const named = await nameWrongType(
      this.broker.client,
      error,
      typedKeys(this.keys, ['fence', 'state', 'entries', 'triggers', 'passedFloor', 'passedSince', 'backfills']),
    );
    if (named instanceof BeatError) return named;
    return new BeatError(ErrorCode.BrokerPublish, `${what} through ${this.broker.spec.display} failed: ${errorMessage(error)}`, {
      cause: withoutCommandArgs(error),
    });
  }

  /** KEYS and ARGV of publish-fenced.lua (see its header) for a planned batch, and which runs have a delivery. */
  private scriptArguments(
    plan: RedisPublishPlan,
    runs: readonly DueRun[],
    token: string,
    nowMs: number,
  ): { keys: string[]; args: ScriptArg[]; delivered: boolean[] } {
    const keys = [this.keys.fence, this.keys.state, this.keys.entries, this.keys.stop];
    // The four per-run columns (names, slots, states, revisions), then the delivery groups.
    const count = plan.messages.length;
    const args = new Array<ScriptArg>(3 + 4 * count);
    args[0] = token;
    args[1] = String(this.maxAheadMs);
    args[2] = String(count);
    const lists = new Map<string, DeliveryGroup>();
    const channels = new Map<string, DeliveryGroup>();
    const delivered = new Array<boolean>(count);
    // The state's head (the publish time) is made once; a burst's runs share their slot's text.
    const head = publishedStateHead(String(nowMs));
    let slotMs = Number.NaN;
    let slot = '';
    plan.messages.forEach((m, i) => {
      const run = runs[i] as DueRun;
      if (run.slotMs !== slotMs) {
        slotMs = run.slotMs;
        slot = String(slotMs);
      }
      args[3 + i] = run.entry.name;
      args[3 + count + i] = slot;
      args[3 + 2 * count + i] = publishedStateAfterSlotFrom(head, m.id, revisionIncarnation(run.entry.revision));
      args[3 + 3 * count + i] = run.entry.revision ?? '';
      // Pushes go in as they are: the transport writes each envelope's bytes from its layout.
      for (const push of m.pushes) groupOf(lists, push.key).add(i + 1, push);
      for (const publish of m.publishes) groupOf(channels, publish.channel).add(i + 1, publish.payload);
      delivered[i] = m.pushes.length + m.publishes.length > 0;
    });
    args.push(String(lists.size + channels.size));
    for (const [key, group] of lists) {
      keys.push(key);
      group.write(args, 'list', String(keys.length)); // Lua's KEYS is 1-based
    }
    for (const [channel, group] of channels) group.write(args, 'channel', channel);
    return { keys, args, delivered };
  }

  /** The log line of each run whose message matched no queue, by run index. */
  private dropReports(
    plan: RedisPublishPlan,
    runs: readonly DueRun[],
    delivered: readonly boolean[],
  ): Map<number, { fields: Record<string, unknown>; message: string }> {
    const byId = new Map(plan.dropped.map((d) => [d.id, d]));
    const reports = new Map<number, { fields: Record<string, unknown>; message: string }>();
    runs.forEach((run, i) => {
      if (delivered[i]) return;
      const d = byId.get(run.message.id);
      reports.set(i, {
        fields: {
          event: EVENTS.publishDropped,
          entry: run.entry.name,
          task: run.entry.task,
          id: run.message.id,
          exchange: d?.exchange,
          routingKey: d?.routingKey,
        },
        message: `message dropped: ${d?.reason ?? 'it reached no queue'}`,
      });
    });
    return reports;
  }

  /** One manual run, exactly once: the trigger script removes the request in the same step. */
  async publishTrigger(message: TaskMessage, requestText: string, token: string, nowMs: number, revision?: string): Promise<TriggerResult> {
    const plan = await this.broker.plan([message]);
    await this.broker.declare(plan);
    const deliveries = plan.messages[0];
    const keys = [this.keys.fence, this.keys.state, this.keys.triggers, this.keys.triggered(message.id), this.keys.entries, this.keys.stop];
    const argv: (string | Buffer)[] = [token, String(nowMs), requestText, message.entry, message.id];
    argv.push(String(deliveries?.pushes.length ?? 0), String(deliveries?.publishes.length ?? 0), revision ?? '');
    for (const push of deliveries?.pushes ?? []) {
      keys.push(push.key);
      argv.push(String(keys.length), push.payload);
    }
    for (const publish of deliveries?.publishes ?? []) argv.push(publish.channel, publish.payload);
    try {
      const reply = readTriggerReply(await withScripts(this.broker.client).triggerFenced(keys.length, ...keys, ...argv));
      if (typeof reply === 'number') return reply;
      // Refused by its entry alone: the request is gone (it would be refused again), the leader stays.
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `manual run of "${message.entry}" (${message.id}) refused: its queue key ${JSON.stringify(reply.refusedKey)} holds a ${reply.type}, not a list; route the entry to another queue, or remove that key`,
      );
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw await this.failure('publishing a manual run', error);
    }
  }

  /**
   * One pending attempt of a slot, exactly once (retry-fenced.lua): its member leaves the retries
   * zset (or the waiting zset: a run its concurrency group releases) in the step that pushes
   * `message` (attemptMessage, or the slot's own). `member` is the zset's text as read.
   */
  async publishRetry(
    message: TaskMessage,
    member: string,
    revision: string | undefined,
    token: string,
    from: 'retries' | 'waiting' = 'retries',
    record?: RunRecord,
  ): Promise<RetryPublishResult> {
    const plan = await this.broker.plan([message]);
    await this.broker.declare(plan);
    const deliveries = plan.messages[0];
    const keys = retryScriptKeys(this.keys, message.entry, from);
    const argv: (string | Buffer)[] = [
      token,
      member,
      String(deliveries?.pushes.length ?? 0),
      String(deliveries?.publishes.length ?? 0),
      revision ?? '',
      record === undefined ? '' : encodeRun(record),
      String(DEFAULTS.runHistoryLength),
    ];
    for (const push of deliveries?.pushes ?? []) {
      keys.push(push.key);
      argv.push(String(keys.length), push.payload);
    }
    for (const publish of deliveries?.publishes ?? []) argv.push(publish.channel, publish.payload);
    try {
      const reply = await withScripts(this.broker.client).retryFenced(keys.length, ...keys, ...argv);
      if (typeof reply === 'number') return reply as RetryPublishResult;
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `attempt of "${message.entry}" (${message.id}) dropped: its queue key ${JSON.stringify(String(reply[1]))} holds a ${String(reply[2])}, not a list; route the entry to another queue, or remove that key`,
      );
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw await this.failure('publishing an attempt', error);
    }
  }

  /** A step's slots classified, nothing written: what a backfill's overlap policy decides on. */
  claimBackfill(call: BackfillStepCall): Promise<BackfillStepResult> {
    return claimBackfillStep(this.broker.client, this.keys, call);
  }

  /**
   * One step of a backfill, exactly once per slot: backfill-fenced.lua checks each slot against the
   * entry's stored slot and its record of passed-over slots, and cuts it out of that record in the
   * step that pushes it. Its reply is decoded in src/redis/fenced-replies.ts.
   */
  async publishBackfill(call: BackfillStepCall): Promise<BackfillStepResult> {
    const { entry, step } = call;
    const plan = await this.broker.plan(step.runs.map((r) => r.message));
    await this.broker.declare(plan);
    const head = backfillScriptHead(this.keys, call, 'step');
    const keys = head.keys;
    const argv: (string | Buffer)[] = head.argv;
    argv.push(String(step.runs.length));
    const listIndex = new Map<string, number>();
    step.runs.forEach((run, i) => {
      if (run.overlap === true) {
        argv.push(String(run.slotMs), '-2', '0');
        return;
      }
      const deliveries = plan.messages[i];
      argv.push(String(run.slotMs), String(deliveries?.pushes.length ?? 0), String(deliveries?.publishes.length ?? 0));
      for (const push of deliveries?.pushes ?? []) {
        let index = listIndex.get(push.key);
        if (index === undefined) {
          index = keys.push(push.key); // Lua's KEYS is 1-based
          listIndex.set(push.key, index);
        }
        argv.push(String(index), push.payload);
      }
      for (const publish of deliveries?.publishes ?? []) argv.push(publish.channel, publish.payload);
    });
    const flag = stepFlag(step, 'step');
    if (flag !== undefined) argv.push(flag);
    let reply: unknown[];
    try {
      reply = await withScripts(this.broker.client).backfillFenced(keys.length, ...keys, ...argv);
    } catch (error) {
      throw await this.failure(`backfilling ${step.runs.length} slots of "${entry}"`, error);
    }
    return readBackfillReply(reply);
  }
}
