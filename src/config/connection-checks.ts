/**
 * The connection settings, checked as `beat run` will use them, so that `beat check` refuses all
 * that `run` would: every URL goes through the parser its client uses (broker, state, each lock
 * server), and settings that only fit together are checked together. Problems name the setting
 * the value came from (`lock.urls[1]`, or `--broker` for an override), never the raw URL.
 */
import { brokerKindOf } from './broker-kinds.js';
import type { BrokerKind } from './broker-kinds.js';
import { isClusterUrl, parseRedisUrl } from './redis-url.js';
import { UrlError, isRedisUrl, maskUrl } from './url-parts.js';
import { BeatError } from '../base/errors.js';
import type { ResolvedConfig } from './resolve.js';

/** A broker URL given outside the file (`--broker`, an environment variable), and where from. */
export interface BrokerOverride {
  readonly url: string;
  /** How the user gave it, for messages: `--broker`, `BEAT_BROKER_URL`, … */
  readonly origin: string;
}

export interface ConnectionProblem {
  /** The setting's path in the file, or the override's origin as a one-key path. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** A URL parser's refusal as a problem of `path`; anything else is not ours to translate. */
function refusal(path: readonly (string | number)[], parse: () => unknown): ConnectionProblem | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    if (error instanceof UrlError) return { path, message: `${error.display}: ${error.problem}` };
    if (error instanceof BeatError) return { path, message: error.message };
    throw error;
  }
}

export function connectionProblems(config: ResolvedConfig, override?: BrokerOverride): ConnectionProblem[] {
  const problems: (ConnectionProblem | undefined)[] = [];
  const { url, transportOptions } = config.broker;
  const brokerPath = override === undefined ? ['broker', 'url'] : [override.origin];
  let kind: BrokerKind | undefined;
  problems.push(
    refusal(brokerPath, () => {
      kind = brokerKindOf(url);
      return kind.parseUrl(url, transportOptions);
    }),
  );
  if (kind?.sharesRedis === true && isClusterUrl(url))
    problems.push({
      path: brokerPath,
      message: `${maskUrl(url)} is a Redis Cluster, and Celery's Redis transport (kombu) does not support cluster mode: no worker could read the queues there. Use RabbitMQ (amqp://) or SQS (sqs://) as the broker, and the cluster for tsbeat's state (state.url)`,
    });
  if (kind?.problems !== undefined) problems.push(...kind.problems(config));
  const stateUrl = config.state.url;
  if (stateUrl !== undefined) {
    const bad = refusal(['state', 'url'], () => parseRedisUrl(stateUrl, transportOptions));
    problems.push(bad);
    if (bad === undefined && kind?.sharesRedis === true && !isClusterUrl(url) && isClusterUrl(stateUrl)) {
      problems.push({
        path: ['state', 'url'],
        message: `${maskUrl(stateUrl)} is a Redis Cluster: with a Redis broker the state must live on the broker's Redis (one atomic script publishes and moves the state forward), and Celery's Redis transport does not support cluster mode. To keep the state on a cluster, use RabbitMQ (amqp://) or SQS (sqs://) as the broker`,
      });
    } else if (bad === undefined && kind?.sharesRedis === true && stateUrl !== url) {
      problems.push({
        path: ['state', 'url'],
        message: `${maskUrl(stateUrl)} differs from the broker ${maskUrl(url)}: with a Redis broker the state must live on the broker's Redis, because publishing and moving the state forward is one atomic script. Remove state.url.`,
      });
    }
  }
  const redbeat = config.sources.redbeat;
  if (redbeat !== undefined) {
    const redbeatUrl = redbeat.url;
    // Dialled with the broker's transport options only when it is the broker's Redis (src/redbeat/wiring.ts).
    if (redbeatUrl !== undefined && isClusterUrl(redbeatUrl))
      problems.push({
        path: ['sources', 'redbeat', 'url'],
        message: `${maskUrl(redbeatUrl)} is a Redis Cluster: tsbeat reads RedBeat's keys from one Redis server only (its schedule and entries do not share a hash slot)`,
      });
    else if (redbeatUrl !== undefined)
      problems.push(refusal(['sources', 'redbeat', 'url'], () => parseRedisUrl(redbeatUrl, redbeatUrl === url ? transportOptions : {})));
    else if (kind !== undefined && !kind.sharesRedis)
      problems.push({
        path: ['sources', 'redbeat', 'url'],
        message: `with an ${kind.label} broker there is no broker Redis to find RedBeat's keys on: give RedBeat's Redis (its redbeat_redis_url)`,
      });
  }
  const backend = config.resultBackend;
  if (backend !== undefined) {
    // Not a Redis scheme (db+postgresql://, rpc://, django-db…): said here.
    if (!isRedisUrl(backend.url))
      problems.push({
        path: ['resultBackend'],
        message: `tsbeat reads Redis result backends only (redis://, rediss://, sentinel://); ${maskUrl(backend.url)} is not one. Remove resultBackend to publish without reading outcomes`,
      });
    else if (isClusterUrl(backend.url))
      problems.push({
        path: ['resultBackend'],
        message: `${maskUrl(backend.url)} is a Redis Cluster: Celery's Redis result backend keeps results on one Redis server, so tsbeat reads them from one (redis://, rediss://, sentinel://)`,
      });
    else problems.push(refusal(['resultBackend'], () => parseRedisUrl(backend.url, backend.transportOptions)));
  }
  // Lock servers are dialled without the broker's transport options (see service.ts).
  config.lock.urls.forEach((lockUrl, i) => problems.push(refusal(['lock', 'urls', i], () => parseRedisUrl(lockUrl, {}))));
  return problems.filter((p): p is ConnectionProblem => p !== undefined);
}
