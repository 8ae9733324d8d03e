/**
 * A one-server URL (redis://, rediss://, sentinel://) that reaches a node of a Redis Cluster, told
 * apart before anything is written: the node answers the keys of its own slots only (MOVED for the
 * rest), so the state and the lock need a `redis-cluster://` URL, whose client follows the slot map;
 * and a Redis broker cannot be a cluster at all, because Celery's Redis transport (kombu) has no
 * cluster mode: its workers could not read the queues.
 */
import { Cluster } from 'ioredis';
import { BeatError, ErrorCode } from '../base/errors.js';
import { maskUrl } from '../config/redis-url.js';
import { brokerKindIfKnown } from '../config/broker-kinds.js';
import type { RedisClient } from './connect.js';

export interface ClusterNodeContext {
  /** The URL the client was made from, its password masked. */
  readonly display: string;
  /** The setting it came from, for the message (`state.url`, `broker.url`, …). */
  readonly setting: string;
  /** The Redis is the broker's too (a Redis broker): the fix is another broker. */
  readonly broker: boolean;
}

/** The context of the state Redis at `stateUrl` for a config's broker and `state.url` (given or not). */
export function stateContext(
  config: { readonly broker: { readonly url: string }; readonly state: { readonly url?: string | undefined } },
  stateUrl: string,
): ClusterNodeContext {
  const broker = brokerKindIfKnown(config.broker.url)?.sharesRedis === true;
  const setting = config.state.url !== undefined ? 'state.url' : broker ? 'broker.url' : 'state.url (default)';
  return { display: maskUrl(stateUrl), setting, broker };
}

/** Whether the server of a one-server client runs in cluster mode (INFO cluster: cluster_enabled:1). */
export async function isClusterNode(client: RedisClient): Promise<boolean> {
  if (client instanceof Cluster) return false;
  const info = await client.info('cluster');
  return /^cluster_enabled:1\s*$/m.test(info);
}

/** Throws REDIS_CLUSTER_MODE (exit 2) when a one-server client reached a cluster node; reads INFO only. */
export async function refuseClusterNode(client: RedisClient, context: ClusterNodeContext): Promise<void> {
  if (!(await isClusterNode(client))) return;
  const fix = context.broker
    ? "Celery's Redis transport (kombu) does not support cluster mode, so workers could not read a broker there: use RabbitMQ (amqp://) or SQS (sqs://) as the broker, and give the cluster as state.url: redis-cluster://host:port[,host:port…]"
    : `give it as a cluster URL, redis-cluster://host:port[,host:port…] (rediss-cluster:// for TLS), so that tsbeat follows the cluster's slot map`;
  throw new BeatError(
    ErrorCode.RedisClusterMode,
    `${context.setting} ${context.display} is a node of a Redis Cluster (cluster_enabled:1). Nothing was written. ${fix}`,
  );
}
