// What a replica reads when it takes one partition on (issue 34, the runtime store's partition index):
// N runtime entries (default 1,000,000) on a private redis-server with `partitions: 12` recorded,
// written through the TypeScript client; then RedisEntryStore.load of one partition of 12, timed,
// with the bytes Redis sent (INFO stats total_net_output_bytes):
//   index      read through the partition index (SSCAN of its set, HMGET of its names)
//   scan       the whole hash scanned, the other partitions' records skipped by name (what every
//              take-over did before the index; taken here by removing the recorded count, so that
//              the store does not use the index)
//   build      the index removed and built again by the load (once per store written before it)
// and the index's memory (used_memory before and after removing it), and the seed's time with and
// without the index kept (the cost to writers). Printed only; needs `npm run build`.
//   node --expose-gc bench/partition-take-over.mjs [N]
import { Redis } from 'ioredis';
import { Entries } from '../dist/index.js';
import { RedisEntryStore } from '../dist/redis/entry-store.js';
import { EntryIndex } from '../dist/redis/entry-index.js';
import { schedulerKeys } from '../dist/redis/keys.js';
import { privateRedis } from './lib/million.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const PARTITIONS = 12;
const DEPLOYMENT = 'million';
const CHUNK = 10_000;
const keys = schedulerKeys('tsbeat', DEPLOYMENT);

async function seed(url, from, to) {
  const writer = await Entries.connect({ url, deployment: DEPLOYMENT });
  const started = performance.now();
  try {
    for (let at = from; at < to; at += CHUNK) {
      const chunk = {};
      for (let i = at; i < Math.min(to, at + CHUNK); i += 1)
        chunk[`tenant-${i}`] = { task: 'bench.million', args: [i], schedule: { crontab: { minute: '*', hour: '*' } } };
      await writer.setMany(chunk);
    }
  } finally {
    await writer.close();
  }
  return performance.now() - started;
}

const outBytes = async (redis) => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))[1]);
const usedMemory = async (redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

async function timedLoad(redis, store) {
  const before = await outBytes(redis);
  const started = performance.now();
  const snapshot = await store.load({ partitions: PARTITIONS, held: new Set([5]) });
  const ms = performance.now() - started;
  return { ms: Math.round(ms), entries: snapshot.entries.length, mb: +(((await outBytes(redis)) - before) / 1e6).toFixed(1) };
}

const server = await privateRedis();
const redis = new Redis(server.url);
try {
  // The writers' cost: the first 100,000 written without the index kept, the next 100,000 with it.
  const small = Math.min(N, 100_000);
  const without = await seed(server.url, 0, small);
  await redis.flushdb();
  await redis.hset(keys.partitioning, 'count', String(PARTITIONS));
  const withIndex = await seed(server.url, 0, small);
  console.log(`seed of ${small}: ${Math.round(without)} ms without the index kept, ${Math.round(withIndex)} ms with it`);
  const rest = await seed(server.url, small, N);
  console.log(`seed of ${N}: ${Math.round(withIndex + rest)} ms`);

  const store = new RedisEntryStore(redis, keys);
  const index = await timedLoad(redis, store);
  await redis.hdel(keys.partitioning, 'count');
  const scan = await timedLoad(redis, new RedisEntryStore(redis, keys));
  await redis.hset(keys.partitioning, 'count', String(PARTITIONS));
  const memBefore = await usedMemory(redis);
  await new EntryIndex(redis, keys).remove(PARTITIONS);
  await new Promise((r) => setTimeout(r, 2000));
  const indexMB = (memBefore - (await usedMemory(redis))) / 1e6;
  const build = await timedLoad(redis, new RedisEntryStore(redis, keys));
  const again = await timedLoad(redis, new RedisEntryStore(redis, keys));
  console.log(JSON.stringify({ n: N, partitions: PARTITIONS, index, scan, build, again, indexMB: +indexMB.toFixed(1) }));
} finally {
  redis.disconnect();
  await server.stop();
}
