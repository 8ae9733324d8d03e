/**
 * Where a task goes: Celery's `Router.route` (celery/app/routes.py) followed by the exchange and
 * routing-key choice of `send_task_message` (celery/app/amqp.py), celery-protocol.md §3.
 * Pure: the result is computed once per entry and kept in its message template.
 */
import type { ExchangeType, Options } from '../config/options-schema.js';
import type { CompiledRoute, Route } from '../config/task-routes.js';

export type { ExchangeType };

export interface Destination {
  /** The exchange published to; '' is the anonymous exchange, where the routing key names the queue. */
  readonly exchange: string;
  readonly exchangeType: ExchangeType;
  /** For the anonymous exchange, the queue name. */
  readonly routingKey: string;
  /**
   * The queue whose binding is declared before publishing (Celery's `declare=[queue]`, kombu's
   * `maybe_declare`), or undefined when Celery would declare none (a named exchange reached by a
   * route that names no queue).
   */
  readonly declareQueue: string | undefined;
  /** `properties.priority`; undefined means none was given (the transport writes 0). */
  readonly priority: number | undefined;
  /** The `taskRoutes` pattern that matched, for logs and `beat check`; undefined when none did. */
  readonly matchedRoute: string | undefined;
}

export interface RoutingConfig {
  readonly taskDefaultQueue: string;
  readonly taskRoutes: readonly CompiledRoute[];
}

type RoutingOptions = Pick<Options, 'queue' | 'exchange' | 'exchangeType' | 'routingKey' | 'priority'>;

/** Celery's `lpmerge(route, options)`: the explicit options win, except where they are None. */
function merge(route: Route, options: RoutingOptions): Route {
  const merged: { -readonly [K in keyof Route]: Route[K] } = { ...route };
  if (options.queue !== undefined) merged.queue = options.queue;
  if (options.exchange !== undefined) merged.exchange = options.exchange;
  if (options.exchangeType !== undefined) merged.exchangeType = options.exchangeType;
  if (options.routingKey !== undefined) merged.routingKey = options.routingKey;
  if (options.priority !== undefined) merged.priority = options.priority;
  return merged;
}

export function resolveDestination(task: string, options: RoutingOptions, config: RoutingConfig): Destination {
  const rule = config.taskRoutes.find((r) => r.matches(task));
  // Router.route: a matching route is merged under the options; with no route and no queue, the
  // default queue is added. A route that names no queue adds none.
  const chosen: Route = rule !== undefined ? merge(rule.route, options) : merge({}, options);
  let queue = chosen.queue;
  if (queue === undefined && (rule === undefined || chosen.exchange === undefined)) queue = config.taskDefaultQueue;

  // send_task_message: an auto-created queue has a direct exchange named after itself, so the
  // exchange type is the option's, else direct.
  const exchangeType: ExchangeType = chosen.exchangeType ?? 'direct';
  const base = { declareQueue: queue, priority: chosen.priority, matchedRoute: rule?.pattern };
  if ((chosen.exchange === undefined || chosen.routingKey === undefined) && exchangeType === 'direct') {
    // The usual path: the anonymous exchange, routing key = queue name (a plain LPUSH on Redis).
    // Celery would publish to `None` when a route names an exchange but neither queue nor routing
    // key; tsbeat uses the default queue there rather than lose the message.
    const target = queue ?? config.taskDefaultQueue;
    return { exchange: '', exchangeType, routingKey: target, ...base, declareQueue: queue ?? target };
  }
  if (chosen.exchange === undefined) {
    // topic/fanout without an exchange: the queue's own exchange, which is named after it.
    const target = queue ?? config.taskDefaultQueue;
    return { exchange: target, exchangeType, routingKey: chosen.routingKey ?? target, ...base };
  }
  return { exchange: chosen.exchange, exchangeType, routingKey: chosen.routingKey ?? '', ...base };
}

/**
 * The queue an entry's runs go to, as operators name it (the queue column, the consumer check):
 * the queue Celery declares, else the anonymous exchange's routing key; '' when a named exchange's
 * binding decides (tsbeat cannot tell which queues that reaches).
 */
export function queueOf(task: string, options: RoutingOptions, config: RoutingConfig): string {
  const d = resolveDestination(task, options, config);
  return d.declareQueue ?? (d.exchange === '' ? d.routingKey : '');
}
