/**
 * Looks at the lock key for the one state that blocks leadership for ever without an error: a key
 * tsbeat did not write. tsbeat's lock is a string holding a redlock token (32 hex digits), always
 * with an expiry (SET NX PX, extended with SET PX). A key without an expiry, of another type or
 * with another value, written by hand or by another program under the same name, makes every
 * lock attempt look like "held by another replica" until someone deletes it.
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from './connect.js';

const REDLOCK_TOKEN = /^[0-9a-f]{32}$/;

export interface LockKeyProblem {
  readonly key: string;
  /** Where it is, as `host:port db N`. */
  readonly server: string;
  readonly noExpiry: boolean;
  /** What the key holds when it is not a tsbeat lock, e.g. `a hash` or `the string "x"`. */
  readonly foreign: string | undefined;
  /** The command that clears it. */
  readonly fix: string;
  /** The whole warning. */
  readonly message: string;
}

function quoteShell(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function describeValue(type: string, value: unknown): string | undefined {
  if (type !== 'string') return `a ${type}`;
  if (typeof value === 'string' && REDLOCK_TOKEN.test(value)) return undefined;
  const text = String(value);
  return `the string "${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
}

/** Where one server keeps the key, and the redis-cli command that deletes it there. */
function onServer(
  options: { host?: string; port?: number; db?: number; path?: string | null },
  key: string,
): { server: string; fix: string } {
  const { host, port, db, path } = options;
  return {
    server: `${path ?? `${host ?? '127.0.0.1'}:${port ?? 6379}`} db ${db ?? 0}`,
    fix: `redis-cli ${path ? `-s ${quoteShell(path)}` : `-h ${host ?? '127.0.0.1'} -p ${port ?? 6379}`} -n ${db ?? 0} DEL ${quoteShell(key)}`,
  };
}

/** On a cluster: the master that serves the key's slot, and redis-cli in cluster mode (-c) that follows it there. */
function onCluster(client: Cluster, key: string): { server: string; fix: string } {
  const node = client.nodes('master')[0]?.options;
  const host = node?.host ?? '127.0.0.1';
  const port = node?.port ?? 6379;
  return { server: `the Redis Cluster of ${host}:${port}`, fix: `redis-cli -c -h ${host} -p ${port} DEL ${quoteShell(key)}` };
}

/** Undefined when the key is absent or a tsbeat lock with an expiry; else what is wrong and how to clear it. */
export async function inspectLockKey(client: RedisClient, key: string, deployment: string): Promise<LockKeyProblem | undefined> {
  const replies = (await client.pipeline().type(key).pttl(key).get(key).exec()) ?? [];
  const [typeReply, pttlReply, getReply] = replies;
  if (typeReply?.[0]) throw typeReply[0];
  if (pttlReply?.[0]) throw pttlReply[0];
  const type = String(typeReply?.[1]);
  if (type === 'none') return undefined;
  const noExpiry = pttlReply?.[1] === -1;
  const foreign = describeValue(type, getReply?.[0] ? undefined : getReply?.[1]);
  if (!noExpiry && foreign === undefined) return undefined;
  const { server, fix } = client instanceof Cluster ? onCluster(client, key) : onServer(client.options, key);
  const what = [noExpiry ? 'has no expiry' : '', foreign ? `holds ${foreign}, not a tsbeat lock` : '']
    .filter((p) => p !== '')
    .join(' and ');
  const message =
    `the lock key ${key} on ${server} ${what}: no replica of deployment "${deployment}" can lead${noExpiry ? ' while it exists' : ' until it expires'}, ` +
    `so nothing is scheduled. Something other than tsbeat wrote it; clear it with: ${fix}`;
  return { key, server, noExpiry, foreign, fix, message };
}
