/**
 * The narrow interface between the scheduler and a message broker. Publishing is split in two:
 * - `plan` works out every delivery (reading routing tables from the broker where the transport
 *   needs them) without publishing anything;
 * - `execute` publishes a plan.
 * The split lets the scheduler hand a Redis plan's list pushes to its own Lua script (which checks
 * the leader's lock and moves the schedule state forward in the same atomic step) instead of
 * `execute`, and lets an AMQP transport implement the same two calls with its own plan type.
 */
import type { TaskMessage } from '../celery/message.js';

/** A message that reached no queue. Never silent: `execute` logs each one and returns them. */
export interface DroppedMessage {
  readonly id: string;
  readonly entry: string;
  readonly task: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** For operators: what happened and how to fix it. */
  readonly reason: string;
}

/** What every transport's plan has; transports extend it with their deliveries. */
export interface PublishPlan {
  /** Which transport made the plan (a plan only goes back to the broker that made it). */
  readonly transport: string;
  /** How many messages were planned, dropped ones included. */
  readonly size: number;
  /** Messages that match no binding; they have no deliveries in the plan. */
  readonly dropped: readonly DroppedMessage[];
}

export interface PublishOutcome {
  /** Messages handed to the broker (each reached at least one queue or channel). */
  readonly published: number;
  /** List pushes plus channel publishes: more than `published` when an exchange fans out. */
  readonly deliveries: number;
  /** Messages that reached nothing: unmatched at planning time, or published to a channel nobody listened on. */
  readonly dropped: readonly DroppedMessage[];
}

export interface Broker<Plan extends PublishPlan = PublishPlan> {
  /** Transport name, e.g. `redis`. */
  readonly transport: string;
  /** Plans the publication of `messages`, in order. Publishes nothing. */
  plan(messages: readonly TaskMessage[]): Promise<Plan>;
  /**
   * Publishes a plan made by this broker. Rejects with a `BeatError` (code `BROKER_PUBLISH`, the
   * transport's error as `cause`) when the broker refuses or cannot be reached; some messages may
   * have been published by then, which the error message states.
   */
  execute(plan: Plan): Promise<PublishOutcome>;
  /**
   * `plan` then `execute`, a batch at a time, for callers that need no atomic step of their own:
   * publishing many messages never holds more than a few batches of envelopes.
   */
  publish(messages: readonly TaskMessage[]): Promise<PublishOutcome>;
  /** Closes connections; pending publishes are finished first. */
  close(): Promise<void>;
}
