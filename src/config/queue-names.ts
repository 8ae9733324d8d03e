/**
 * Queue names that can only collide, refused when a runtime entry is written and in a config file
 * (`beat check`, `beat run`, a reload), in every signature of a canvas as in the entry's own options.
 * On a Redis broker a queue is the list at
 * `globalKeyprefix + queue`, in the DB that also holds tsbeat's keys, kombu's bookkeeping and often
 * the application's: a queue name that lands on one of those pushes into, or is refused by, a key
 * that is not a queue. kombu's names (its Redis transport, kombu/transport/redis.py): the binding
 * sets `_kombu.binding.<exchange>` (keyprefix_queue), the `unacked`, `unacked_index` and
 * `unacked_mutex` keys of ack emulation, and `<queue><sep><step>`, the lists of a queue's priority
 * steps (sep is "\x06\x16" by default). tsbeat's keys are `<state.prefix>:{<deployment>}:…`.
 */
import { DEFAULTS } from '../base/defaults.js';
import { brokerKindIfKnown } from './broker-kinds.js';
import type { ResolvedConfig } from './resolve.js';
import { canvasSignatures } from './canvas-schema.js';
import type { CanvasParts } from './canvas-schema.js';
import type { TaskRoutesInput } from './options-schema.js';

/** What decides which keys a queue name could land on. */
export interface QueueNameContext {
  /** tsbeat's `state.prefix` ('' for none). */
  readonly statePrefix: string;
  /** kombu `global_keyprefix`, prepended to every queue list. */
  readonly globalKeyprefix: string;
  /** kombu `sep`, between a queue name and its priority step. */
  readonly sep: string;
}

const KOMBU_RESERVED = new Set(['unacked', 'unacked_index', 'unacked_mutex']);
/** tsbeat's key shape, `{<deployment>}:` after a prefix (any prefix: another deployment's keys too). */
const TSBEAT_KEY = /(^|:)\{[^{}]*\}:/;

/** Why `queue` can only collide, or undefined when it is a plain queue name. */
export function queueCollision(queue: string, context: QueueNameContext): string | undefined {
  const key = `${context.globalKeyprefix}${queue}`;
  const fix = 'choose a queue name of your own';
  if (context.statePrefix !== '' && key.startsWith(`${context.statePrefix}:`))
    return `the queue's list ${JSON.stringify(key)} is under tsbeat's own prefix "${context.statePrefix}:"; ${fix}`;
  if (TSBEAT_KEY.test(key))
    return `the queue's list ${JSON.stringify(key)} has the shape of a tsbeat deployment's keys ("<prefix>:{<name>}:…"); ${fix}`;
  if (queue.startsWith('_kombu.')) return `"_kombu." names kombu's binding sets, not queues; ${fix}`;
  if (KOMBU_RESERVED.has(queue)) return `"${queue}" is a key of kombu's acknowledgement emulation, not a queue; ${fix}`;
  if (context.sep !== '' && queue.includes(context.sep))
    return `the queue name holds kombu's priority separator ${JSON.stringify(context.sep)}: its list would be another queue's priority step; ${fix}`;
  return undefined;
}

/** What of a parsed entry names queues: its options and its canvas. */
export type QueuedEntry = CanvasParts & { readonly options: { readonly queue?: string | undefined } };

/** A queue that can only collide, at its path under the entry (`['chain', 2, 'options', 'queue']`). */
export interface QueueNameProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * The problems of a runtime entry's queues, with their paths: its own (`options.queue`) and every
 * signature's of its canvas (`chain[2].options.queue`, `chord.body.link[0].options.queue`), since
 * tsbeat publishes a group's members and a chord's header to theirs, and the worker each later
 * step and callback, all on the same Redis. None when every queue is fine or none is named.
 */
export function queueNameProblems(entry: QueuedEntry, context: QueueNameContext): QueueNameProblem[] {
  const problems: QueueNameProblem[] = [];
  const check = (queue: string | undefined, at: readonly (string | number)[]): void => {
    const why = queue === undefined ? undefined : queueCollision(queue, context);
    if (why !== undefined) problems.push({ path: [...at, 'options', 'queue'], message: why });
  };
  check(entry.options.queue, []);
  for (const { signature, path } of canvasSignatures(entry)) check(signature.options.queue, path);
  return problems;
}

/**
 * The problems of a config file's queues, at their paths in the file: each entry's as a runtime
 * entry's (`beatSchedule.x.chain[2].options.queue`), `taskDefaultQueue` and each route's. The file
 * is the operator's, but a queue there lands on the same keys: a step pushed onto the deployment's
 * stop key stops it as surely as a runtime entry's.
 */
export function configQueueProblems(
  config: {
    readonly beatSchedule: Readonly<Record<string, QueuedEntry>>;
    readonly taskDefaultQueue: string;
    readonly taskRoutes?: TaskRoutesInput | undefined;
  },
  context: QueueNameContext,
): QueueNameProblem[] {
  const problems: QueueNameProblem[] = [];
  const check = (queue: string | undefined, path: (string | number)[]): void => {
    const why = queue === undefined ? undefined : queueCollision(queue, context);
    if (why !== undefined) problems.push({ path, message: why });
  };
  for (const name in config.beatSchedule) {
    const entry = config.beatSchedule[name];
    if (entry !== undefined)
      for (const p of queueNameProblems(entry, context)) problems.push({ ...p, path: ['beatSchedule', name, ...p.path] });
  }
  check(config.taskDefaultQueue, ['taskDefaultQueue']);
  const routes = config.taskRoutes;
  const maps = routes === undefined ? [] : Array.isArray(routes) ? routes.map((map, i) => [map, [i]] as const) : [[routes, []] as const];
  for (const [map, at] of maps)
    for (const [pattern, route] of Object.entries(map))
      if (typeof route === 'string') check(route, ['taskRoutes', ...at, pattern]);
      else check(route.queue, ['taskRoutes', ...at, pattern, 'queue']);
  return problems;
}

/** The context of a broker's transport options (kombu's defaults where unset). */
export function queueNameContext(
  statePrefix: string,
  transport: { globalKeyprefix?: string | undefined; sep?: string | undefined },
): QueueNameContext {
  return { statePrefix, globalKeyprefix: transport.globalKeyprefix ?? '', sep: transport.sep ?? DEFAULTS.prioritySep };
}

/** The context of a deployment's config; undefined with a broker that is not a Redis, whose queues are not keys. */
export function queueNameContextOf(config: Pick<ResolvedConfig, 'broker' | 'state'>): QueueNameContext | undefined {
  // A URL of no known kind is its own problem (connectionProblems names it), not this check's.
  if (brokerKindIfKnown(config.broker.url)?.sharesRedis !== true) return undefined;
  return queueNameContext(config.state.prefix, config.broker.transportOptions);
}
