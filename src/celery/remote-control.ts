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
 *
 * A command that wants answers (`inspect().active_queues()`: `reply=True`) also carries a `ticket`
 * (a uuid) and `reply_to: {exchange: 'reply.<control exchange>.pidbox', routing_key: <oid>}`; each
 * worker publishes `{<its hostname>: <the handler's result>}` to that direct exchange with the
 * routing key, headers `{ticket, clock}` (kombu/pidbox.py `Node.dispatch`, `Mailbox._publish_reply`),
 * and the caller keeps the answers of its ticket that came within its `timeout`.
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

/** kombu's `Mailbox.reply_exchange`: the direct exchange workers answer a command on. */
export function replyExchange(controlExchange: string): string {
  return `reply.${controlExchange}.pidbox`;
}

/** kombu's `Mailbox.get_reply_queue`: the queue `<oid>.reply.<control exchange>.pidbox`, bound with routing key `oid`. */
export function replyQueue(controlExchange: string, oid: string): string {
  return `${oid}.${replyExchange(controlExchange)}`;
}

/** A command broadcast to every worker: kombu's `Mailbox._publish` body, with the reply fields when answers are wanted. */
function broadcastMessage(
  method: string,
  args: Record<string, unknown>,
  clock: number,
  nowMs: number,
  controlExchange: string,
  timeoutS: number,
  reply?: { readonly ticket: string; readonly oid: string },
): ControlMessage {
  const body = {
    method,
    arguments: args,
    destination: null,
    pattern: null,
    matcher: null,
    ...(reply === undefined
      ? {}
      : { ticket: reply.ticket, reply_to: { exchange: replyExchange(controlExchange), routing_key: reply.oid } }),
  };
  return {
    exchange: pidboxExchange(controlExchange),
    body: JSON.stringify(body),
    headers: { clock, expires: nowMs / 1000 + timeoutS },
  };
}

/** `Control.revoke(task_id, terminate=…, signal=…)` as kombu publishes it, at `nowMs` with Lamport clock `clock`. */
export function revokeMessage(command: RevokeCommand, clock: number, nowMs: number, controlExchange: string): ControlMessage {
  if (command.taskIds.length === 0) throw new Error('a revoke names at least one task id');
  const taskId = command.taskIds.length === 1 ? command.taskIds[0] : [...command.taskIds];
  const args = { task_id: taskId, terminate: command.terminate, signal: command.signal };
  return broadcastMessage('revoke', args, clock, nowMs, controlExchange, BROADCAST_TIMEOUT_S);
}

/** Where the answers to an inspect command go: its ticket and the caller's reply routing key (kombu's `oid`). */
export interface ReplyTo {
  readonly ticket: string;
  readonly oid: string;
}

/**
 * `app.control.inspect(timeout=…).active_queues()` as kombu publishes it: the `active_queues`
 * command (celery/worker/control.py) to every worker, answered on `reply`'s routing key.
 */
export function activeQueuesMessage(
  reply: ReplyTo,
  clock: number,
  nowMs: number,
  controlExchange: string,
  timeoutS: number,
): ControlMessage {
  return broadcastMessage('active_queues', {}, clock, nowMs, controlExchange, timeoutS, reply);
}

/**
 * The queues each worker consumes, from its answer to `active_queues`: `{<hostname>: [<queue as
 * kombu's Queue.as_dict>, …]}`, of which the `name`s. A worker whose handler failed answers
 * `{<hostname>: {error: …}}`: it consumes nothing known. Anything else is not an answer (undefined).
 */
export function activeQueuesOf(body: unknown): Map<string, string[]> | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const out = new Map<string, string[]>();
  for (const [worker, queues] of Object.entries(body as Record<string, unknown>)) {
    const names = Array.isArray(queues)
      ? queues.flatMap((q: unknown) =>
          q !== null && typeof q === 'object' && typeof (q as { name?: unknown }).name === 'string' ? [(q as { name: string }).name] : [],
        )
      : [];
    out.set(worker, names);
  }
  return out;
}
