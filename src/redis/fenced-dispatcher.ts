/**
 * Publishing through the Redis broker with the exactly-once guarantee: the broker plans each
 * message's deliveries (queue lists, bindings, priority steps), then one Lua script checks the fence,
 * checks that each slot is newer than the stored one, pushes, and moves the state forward, all or
 * nothing. A deposed leader cannot publish, and no slot is published twice, even with two
 * instances racing.
 */
import { withoutCommandArgs } from '../broker/redis-transport.js';
import type { RedisTransport } from '../broker/redis-transport.js';
import type { RespArg } from '../broker/resp.js';
import { BeatError, ErrorCode, errorMessage } from '../errors.js';
import { EVENTS } from '../log-events.js';
import type { Logger } from '../log.js';
import type { DispatchResult, Dispatcher, DueRun, RunOutcome } from '../runtime/dispatch.js';
import type { TriggerPublisher } from '../runtime/control-loop.js';
import type { MessageTemplate, TaskMessage } from '../celery/message.js';
import type { SchedulerKeys } from './keys.js';
import { PUBLISH_FENCED_SCRIPT, withScripts } from './scripts.js';

const OUTCOMES: Record<number, RunOutcome> = { 1: 'published', 0: 'stale', 2: 'dropped' };

export class RedisFencedDispatcher implements Dispatcher, TriggerPublisher {
  constructor(
    private readonly broker: RedisTransport,
    private readonly keys: SchedulerKeys,
    private readonly logger: Logger,
  ) {}

  async dispatch(runs: readonly DueRun[], token: string, nowMs: number): Promise<DispatchResult> {
    const plan = await this.broker.plan(runs.map((r) => r.message));
    await this.broker.declare(plan);
    const keys = [this.keys.fence, this.keys.state];
    const keyIndex = new Map<string, number>();
    // Pushes go in as they are: the transport writes each envelope's bytes from its layout.
    const args: RespArg[] = [token, String(nowMs), String(runs.length)];
    plan.messages.forEach((m, i) => {
      const run = runs[i] as DueRun;
      args.push(run.entry.name, String(run.slotMs), m.id, String(m.pushes.length), String(m.publishes.length));
      for (const push of m.pushes) {
        let index = keyIndex.get(push.key);
        if (index === undefined) {
          keys.push(push.key);
          index = keys.length; // Lua's KEYS is 1-based
          keyIndex.set(push.key, index);
        }
        args.push(String(index), push);
      }
      for (const publish of m.publishes) args.push(publish.channel, publish.payload);
    });
    let reply: number[];
    try {
      reply = (await this.broker.evalScript(PUBLISH_FENCED_SCRIPT, keys, args)) as number[];
    } catch (error) {
      throw new BeatError(ErrorCode.BrokerPublish, `publishing ${runs.length} runs through ${this.broker.spec.display} failed: ${errorMessage(error)}`, {
        cause: withoutCommandArgs(error),
      });
    }
    if (reply[0] === -1) return { fenced: true };
    const outcomes = runs.map((_, i) => OUTCOMES[reply[i + 1] ?? -1] ?? 'stale');
    const droppedById = new Map(plan.dropped.map((d) => [d.id, d]));
    outcomes.forEach((outcome, i) => {
      if (outcome !== 'dropped') return;
      const run = runs[i] as DueRun;
      const d = droppedById.get(run.message.id);
      this.logger.error(
        { event: EVENTS.publishDropped, entry: run.entry.name, task: run.entry.task, id: run.message.id, exchange: d?.exchange, routingKey: d?.routingKey },
        `message dropped: ${d?.reason ?? 'it reached no queue'}`,
      );
    });
    return { fenced: false, outcomes };
  }

  prepare(template: MessageTemplate): void {
    this.broker.prepare(template);
  }

  /** One manual run, exactly once: the trigger script removes the request in the same step. */
  async publishTrigger(message: TaskMessage, requestText: string, token: string, nowMs: number): Promise<number> {
    const plan = await this.broker.plan([message]);
    await this.broker.declare(plan);
    const deliveries = plan.messages[0];
    const keys = [this.keys.fence, this.keys.state, this.keys.triggers, this.keys.triggered(message.id)];
    const argv: (string | Buffer)[] = [token, String(nowMs), requestText, message.entry, message.id];
    argv.push(String(deliveries?.pushes.length ?? 0), String(deliveries?.publishes.length ?? 0));
    for (const push of deliveries?.pushes ?? []) {
      keys.push(push.key);
      argv.push(String(keys.length), push.payload);
    }
    for (const publish of deliveries?.publishes ?? []) argv.push(publish.channel, publish.payload);
    try {
      return await withScripts(this.broker.client).triggerFenced(keys.length, ...keys, ...argv);
    } catch (error) {
      throw new BeatError(ErrorCode.BrokerPublish, `publishing a manual run through ${this.broker.spec.display} failed: ${errorMessage(error)}`, {
        cause: withoutCommandArgs(error),
      });
    }
  }
}
