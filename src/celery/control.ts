/**
 * Celery's remote control (celery/app/control.py `Control.revoke` → `broadcast` → kombu's
 * `Mailbox._broadcast` / `_publish`, kombu/pidbox.py): the command a worker's pidbox consumer
 * dispatches. Pure: the transports wrap it (src/kombu/pidbox.ts for Redis, src/amqp/pidbox.ts for
 * RabbitMQ).
 *
 * The body, serialized with the app's task_serializer (JSON), is `{method, arguments, destination,
 * pattern, matcher}`; a broadcast without reply (`reply=False`, Celery's default for revoke) has
 * no `ticket` nor `reply_to`. The headers are `clock` (kombu's Lamport clock, which the worker only
 * moves forward) and `expires` (`time() + timeout`, Python seconds as a float; timeout 1.0 by
 * default). A worker runs every command whose destination is null (all workers).
 */

/** kombu's `Mailbox.exchange_fmt`: the fanout exchange a Celery app's workers take commands from. */
export function pidboxExchange(controlExchange: string): string {
  return `${controlExchange}.pidbox`;
}

/** Celery's `broadcast` default `timeout`: the command's `expires` header is that far ahead. */
const BROADCAST_TIMEOUT_S = 1.0;

export interface RevokeCommand {
  /** One id is sent as a string (as `app.control.revoke(id)` sends it), several as a list. */
  readonly taskIds: readonly string[];
  /** Also terminate the process running it (prefork pool: the child is sent `signal`). */
  readonly terminate: boolean;
  /** A signal name as celery's `signals.signum` reads it ('SIGTERM', 'SIGKILL'…). */
  readonly signal: string;
}

/** A control command ready for a transport: its body (JSON text) and headers. */
export interface ControlMessage {
  readonly exchange: string;
  readonly body: string;
  readonly headers: { readonly clock: number; readonly expires: number };
}

/** `Control.revoke(task_id, terminate=…, signal=…)` as kombu publishes it, at `nowMs` with Lamport clock `clock`. */
export function revokeMessage(command: RevokeCommand, clock: number, nowMs: number, controlExchange: string): ControlMessage {
  if (command.taskIds.length === 0) throw new Error('a revoke names at least one task id');
  const taskId = command.taskIds.length === 1 ? command.taskIds[0] : [...command.taskIds];
  const body = {
    method: 'revoke',
    arguments: { task_id: taskId, terminate: command.terminate, signal: command.signal },
    destination: null,
    pattern: null,
    matcher: null,
  };
  return {
    exchange: pidboxExchange(controlExchange),
    body: JSON.stringify(body),
    headers: { clock, expires: nowMs / 1000 + BROADCAST_TIMEOUT_S },
  };
}
