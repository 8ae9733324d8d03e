/**
 * How the overlap policies cancelOther and terminateOther stop an entry's previous run: a revoke
 * broadcast through Celery's remote control on the broker (src/publish/revoking.ts implements it
 * for Redis and RabbitMQ; an SQS broker has none).
 */
import type { RevokeCommand } from '../celery/remote-control.js';

export type { RevokeCommand };

export interface Revoker {
  /**
   * Broadcasts `command` to every worker at `nowMs`. Resolves once the broker took it (Redis: the
   * PUBLISH answered, with how many subscribers — workers — received it; RabbitMQ: confirmed);
   * rejects when it could not be sent. A worker that is not connected then never hears it.
   */
  revoke(command: RevokeCommand, nowMs: number): Promise<{ readonly receivers?: number }>;
}
