/** What live control (pause, resume, manual runs) needs from the outside: where requests come from, and how a manual run is published. */
import type { TaskMessage } from '../celery/message.js';

/** A pending manual run, stored as JSON text in the triggers list. */
export interface TriggerRequest {
  readonly entry: string;
  readonly id: string;
  /** When it was asked for, epoch ms. */
  readonly at: number;
  /** Why, as the operator said (`beat trigger --note`, the API); logged with the run. */
  readonly note?: string;
}

/** What the control loop needs from Redis (ControlStore fits). */
export interface ControlSource {
  paused(): Promise<Set<string>>;
  pendingTriggers(max: number): Promise<{ text: string; request: TriggerRequest | undefined }[]>;
  discardTrigger(text: string): Promise<void>;
}

export interface TriggerPublisher {
  /**
   * 1 published, 0 no longer pending, -1 fenced, 2 superseded: the entry's stored revision is not
   * `revision` (a runtime entry's, ResolvedEntry.revision): nothing published, the request stays.
   */
  publishTrigger(message: TaskMessage, requestText: string, token: string, nowMs: number, revision?: string): Promise<number>;
}
