/**
 * The broker kinds tsbeat publishes to, registered once: the only place of src/ that names them
 * (test/unit/broker-registry.test.ts checks it). Everything else asks a kind what it can do
 * (`sharesRedis`, `remoteControl`…) instead of comparing its name, so a new broker is one folder
 * and one entry here, plus its publishing in src/publish/brokers.ts (docs/design.md, "Adding a
 * broker", lists the files).
 *
 * This half is what the config needs, with no client library: which URLs select the kind, how
 * they parse, and what the kind can carry, so that `beat check` refuses all that `beat run` would.
 */
import { DEFAULTS } from '../base/defaults.js';
import { parseAmqpUrl } from './amqp-url.js';
import { parseRedisUrl } from './redis-url.js';
import type { TransportOptionsInput } from './options-schema.js';
import { sqsOptionProblems } from './sqs-options.js';
import { parseSqsUrl } from './sqs-url.js';
import { AMQP_SCHEMES, REDIS_CLUSTER_SCHEMES, REDIS_SCHEMES, splitScheme, urlError } from './url-parts.js';
import type { ResolvedConfig } from './resolve.js';

export interface BrokerKindProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface BrokerKind {
  /** The key of the kind's publishing in src/publish/brokers.ts. */
  readonly name: BrokerName;
  /** In messages: "with an SQS broker …". */
  readonly label: string;
  /** The URL schemes that select it, as shown in the list of supported schemes. */
  readonly schemes: readonly string[];
  /** Schemes it also takes but the list does not show (kombu's `pyamqp`). */
  readonly aliases?: readonly string[];
  /** Parses a broker URL as its client will dial it; throws a UrlError (or BeatError) naming the fix. */
  parseUrl(url: string, transportOptions: TransportOptionsInput): unknown;
  /**
   * The broker is a Redis: its queues are keys beside the state's (queue names are checked against
   * them), one script publishes and moves the state (so the state must live there), RedBeat's keys
   * may be on it, and the workers are asked who consumes through it.
   */
  readonly sharesRedis: boolean;
  /** Where state and lock live when `state.url` is unset, if the broker cannot hold them; undefined: on the broker itself (a Redis) or required. */
  readonly defaultStateUrl?: string;
  /** Carries Celery's remote control and task events (a fanout exchange): revokes reach the workers. */
  readonly remoteControl: boolean;
  /** What the kind cannot take of an otherwise valid config. */
  problems?(config: ResolvedConfig): BrokerKindProblem[];
}

/** SQS holds neither the state nor a fanout exchange: kombu's option checks and what it cannot carry. */
function sqsProblems(config: ResolvedConfig): BrokerKindProblem[] {
  const problems: BrokerKindProblem[] = sqsOptionProblems(config.broker.transportOptions);
  if (config.state.url === undefined)
    problems.push({
      path: ['state', 'url'],
      message: 'with an SQS broker the state and the lock live in Redis: give its URL, such as state: { url: "redis://127.0.0.1:6379/0" }',
    });
  if (config.taskEvents)
    problems.push({
      path: ['taskEvents'],
      message:
        "Celery's task events need a fanout exchange, which kombu's SQS transport does not have: remove taskEvents and follow outcomes through a resultBackend",
    });
  return problems;
}

/** The registry: a new broker is one more entry here (and its publishing in src/publish/brokers.ts). */
export const BROKER_KINDS = [
  {
    name: 'redis',
    label: 'Redis',
    schemes: REDIS_SCHEMES.filter((scheme) => !REDIS_CLUSTER_SCHEMES.includes(scheme)),
    // A cluster's URL is known as a Redis one only to be refused with its reason (config/connection-checks.ts):
    // Celery's Redis transport has no cluster mode, so the list of broker schemes does not offer it.
    aliases: REDIS_CLUSTER_SCHEMES,
    parseUrl: (url, transportOptions) => parseRedisUrl(url, transportOptions),
    sharesRedis: true,
    remoteControl: true,
  },
  {
    name: 'amqp',
    label: 'AMQP',
    schemes: Object.keys(AMQP_SCHEMES).filter((scheme) => scheme !== 'pyamqp'),
    aliases: ['pyamqp'],
    parseUrl: (url) => parseAmqpUrl(url),
    sharesRedis: false,
    defaultStateUrl: DEFAULTS.amqpStateUrl,
    remoteControl: true,
  },
  {
    name: 'sqs',
    label: 'SQS',
    schemes: ['sqs'],
    parseUrl: (url) => parseSqsUrl(url),
    sharesRedis: false,
    remoteControl: false,
    problems: sqsProblems,
  },
] as const satisfies readonly (Omit<BrokerKind, 'name'> & { readonly name: string })[];

/** The name of a registered kind: the keys src/publish/brokers.ts must wire, checked by the compiler. */
export type BrokerName = (typeof BROKER_KINDS)[number]['name'];

const ALL: readonly BrokerKind[] = BROKER_KINDS;

/** The kind a broker URL selects, by the scheme of its first URL; a UrlError for any other. */
export function brokerKindOf(url: string): BrokerKind {
  const scheme = splitScheme(url.trim())?.name;
  const kind = scheme === undefined ? undefined : ALL.find((k) => k.schemes.includes(scheme) || k.aliases?.includes(scheme) === true);
  if (kind !== undefined) return kind;
  const shown = ALL.flatMap((k) => k.schemes).map((s) => `${s}://`);
  throw urlError(
    url,
    `unsupported scheme${scheme === undefined ? '' : ` "${scheme}://"`}; use ${shown.slice(0, -1).join(', ')} or ${shown.at(-1) ?? ''}`,
  );
}

/** The kind, or undefined when the URL does not parse (connectionProblems says why). */
export function brokerKindIfKnown(url: string): BrokerKind | undefined {
  try {
    return brokerKindOf(url);
  } catch {
    return undefined;
  }
}

/**
 * The Redis URL holding state and lock for this config: `state.url`, else the kind's default (the
 * local Redis for an AMQP broker, which cannot hold them), else the broker's own Redis.
 */
export function stateUrlFor(config: Pick<ResolvedConfig, 'broker' | 'state'>): string {
  return config.state.url ?? brokerKindIfKnown(config.broker.url)?.defaultStateUrl ?? config.broker.url;
}
