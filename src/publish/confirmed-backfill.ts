/**
 * A backfill's step on a broker outside Redis (RabbitMQ, SQS). RabbitMQ and SQS cannot take part in a
 * Redis script, so the Redis broker's one atomic step becomes three, as the schedule's own publishes do:
 *
 *   1. claim (backfill-fenced.lua, mode 'claim'): fenced; which slots of the step never ran. Writes nothing.
 *   2. send those slots, each with its own slot task id, and wait for every confirm (AMQP publisher
 *      confirms; SQS SendMessageBatch's per-message replies).
 *   3. commit (backfill-fenced.lua, a step with no pushes): fenced; cuts the sent slots out of the
 *      record of passed-over slots and writes the request's progress (`through`) in one step. The
 *      slots the claim did not find publishable go in held: counted, never recorded as published.
 *
 * A step is committed only when every slot it sent is confirmed. When one is not, nothing of the
 * step is recorded and the request stays pending: the leader's next wake-up (or a new leader, after
 * `through`) claims and sends the step again, each slot with the same task id. So a slot is never
 * lost, and goes out twice only when a confirm was lost or the leader died between send and
 * commit — a duplicate with the same id, which FIFO queues on SQS drop (within 5 minutes) and
 * result backends and workers can tell. A message the broker refuses for the entry's own reasons
 * (unroutable, its queue refused) refuses the whole request, with the reason for the requester.
 */
import type { RedisClient } from '../redis/connect.js';
import { BeatError, ErrorCode, errorMessage } from '../base/errors.js';
import { runMessages } from '../celery/message.js';
import type { TaskMessage } from '../celery/message.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { withScripts } from '../redis/scripts.js';
import { readBackfillReply } from '../redis/fenced-replies.js';
import type { BackfillStep, BackfillStepCall, BackfillStepResult } from '../ports/control-source.js';
import type { AmqpSendResult } from '../amqp/transport.js';
import type { AmqpPublishPlan } from '../amqp/message.js';

/** backfill-fenced.lua's KEYS[1..9] and ARGV[1..10] for one step of `entry`'s request (the slots follow, then stepFlags). */
export function backfillScriptHead(
  keys: SchedulerKeys,
  call: BackfillStepCall,
  mode: 'step' | 'claim',
): { keys: string[]; argv: string[] } {
  const { entry, step, request, token, nowMs, revision } = call;
  const k = keys;
  return {
    keys: [k.fence, k.state, k.entries, k.passedFloor, k.passed(entry), k.backfills, k.backfill(request.id), k.passedSince, k.stop],
    argv: [
      token,
      String(nowMs),
      request.text,
      entry,
      revision ?? '',
      request.unrecorded ? '1' : '',
      mode === 'claim' ? 'claim' : step.last ? '1' : '',
      String(step.excluded),
      String(step.throughMs),
      String(step.total),
    ],
  };
}

/** What follows a step's slots: 'kept' when bufferOne kept a slot (a claim writes nothing), else nothing. */
export function stepFlag(step: BackfillStep, mode: 'step' | 'claim'): string | undefined {
  return mode === 'step' && step.kept === true ? 'kept' : undefined;
}

/** A step's slots classified as the step would, nothing written (a claim: every slot P = 0). */
export async function claimBackfillStep(state: RedisClient, keys: SchedulerKeys, call: BackfillStepCall): Promise<BackfillStepResult> {
  const { step } = call;
  const head = backfillScriptHead(keys, call, 'claim');
  const argv = [...head.argv, String(step.runs.length)];
  for (const r of step.runs) argv.push(String(r.slotMs), '0', '0');
  const scripts = withScripts(state);
  return readBackfillReply(await scripts.backfillFenced(head.keys.length, ...head.keys, ...argv));
}

/**
 * What the dispatcher needs of a transport that acknowledges each message: AmqpTransport (publisher
 * confirms) and SqsTransport (SendMessageBatch's per-message replies) fit; tests can pass an object literal.
 */
export interface ConfirmingSender<Plan = AmqpPublishPlan> {
  plan(messages: readonly TaskMessage[]): Promise<Plan>;
  send(plan: Plan): Promise<AmqpSendResult[]>;
}

/**
 * Sends runs through `broker` and reports one result per run. A group or chord run's messages
 * (runMessages) go together, and the run is confirmed only when all of them are, else it takes
 * the first result of its that is not: a partly confirmed run is not recorded and goes again whole
 * on the retry, with the same ids (at least once, as every run on these brokers).
 */
export async function sendRuns<Plan>(broker: ConfirmingSender<Plan>, messages: readonly TaskMessage[]): Promise<AmqpSendResult[]> {
  if (!messages.some((m) => m.more !== undefined)) return broker.send(await broker.plan(messages));
  const results = await broker.send(await broker.plan(messages.flatMap(runMessages)));
  let at = 0;
  return messages.map((m) => {
    const own = results.slice(at, (at += runMessages(m).length));
    return own.find((r) => r.status !== 'confirmed') ?? own[0] ?? { status: 'failed', error: new Error('no result') };
  });
}

/** One step, claimed, sent with confirms, and committed (see the module's comment). */
export async function publishConfirmedBackfill<Plan>(
  state: RedisClient,
  broker: ConfirmingSender<Plan>,
  keys: SchedulerKeys,
  unrecorded: (messages: readonly TaskMessage[], why: string) => void,
  call: BackfillStepCall,
): Promise<BackfillStepResult> {
  const { entry, step } = call;
  const scripts = withScripts(state);
  // P per slot: 0 sent (or to classify), -1 held (the claim did not code it 1), -2 held by the overlap policy.
  const run = async (mode: 'step' | 'claim', pushes: (i: number) => string): Promise<BackfillStepResult> => {
    const head = backfillScriptHead(keys, call, mode);
    const argv = [...head.argv, String(step.runs.length)];
    step.runs.forEach((r, i) => argv.push(String(r.slotMs), pushes(i), '0'));
    const flag = stepFlag(step, mode);
    if (flag !== undefined) argv.push(flag);
    return readBackfillReply(await scripts.backfillFenced(head.keys.length, ...head.keys, ...argv));
  };
  const claim = await run('claim', () => '0');
  if (claim.kind !== 'done') return claim;
  const fresh = step.runs.filter((r, i) => claim.outcomes[i] === 'published' && r.overlap !== true);
  if (fresh.length > 0) {
    const results = await sendRuns(
      broker,
      fresh.map((r) => r.message),
    );
    const replies = fresh.map((_, i): AmqpSendResult => results[i] ?? { status: 'failed', error: new Error('no result') });
    const confirmed = fresh.filter((_, i) => replies[i]?.status === 'confirmed');
    const off = replies.find((r) => r.status !== 'confirmed');
    if (off !== undefined) {
      if (confirmed.length > 0)
        unrecorded(
          confirmed.map((r) => r.message),
          `a slot of the same backfill step was not confirmed`,
        );
      const notConfirmed = fresh.length - confirmed.length;
      // The entry's own fault (unroutable, its queue refused): it would be refused again on every retry.
      if (off.status === 'returned' || off.status === 'refused')
        return {
          kind: 'refused',
          reason: `the broker refused its messages: ${off.status === 'returned' ? `unroutable: ${off.reason}` : off.reason}`,
        };
      throw new BeatError(
        ErrorCode.BrokerPublish,
        `backfill of "${entry}": ${notConfirmed} of ${fresh.length} slots not confirmed by the broker (${off.error.message}); the step is sent again, with the same task ids, on the leader's next wake-up`,
        { cause: off.error },
      );
    }
  }
  let commit: BackfillStepResult;
  try {
    commit = await run('step', (i) => (step.runs[i]?.overlap === true ? '-2' : claim.outcomes[i] !== 'published' ? '-1' : '0'));
  } catch (error) {
    if (fresh.length > 0)
      unrecorded(
        fresh.map((r) => r.message),
        `Redis failed: ${errorMessage(error)}`,
      );
    throw error;
  }
  if (commit.kind !== 'done' && fresh.length > 0)
    unrecorded(
      fresh.map((r) => r.message),
      commit.kind === 'fenced' ? 'this instance lost the fence' : `the backfill step was ${commit.kind} meanwhile`,
    );
  return commit;
}
