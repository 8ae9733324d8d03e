/**
 * The middle of a backfill's takeover, as backfill.test.ts and backfill-brokers.test.ts stage it:
 * the leader is killed between two of its steps, and the standby must finish the range.
 */
import type { Redis } from 'ioredis';
import type { BeatFleet, BeatProcess } from './beat-process.js';

/**
 * Waits (up to 60 s) for a backfill progress key matching `pattern` (and `fresh`) with some runs
 * published, then, with Redis's writes paused so that the count cannot move, reads how many and
 * kills `leader` with SIGKILL. Returns that count: what the leader had published when it died.
 */
export async function killLeaderMidBackfill(
  client: Redis,
  pattern: string,
  leader: BeatProcess,
  fleet: BeatFleet,
  fresh: (key: string) => boolean = () => true,
): Promise<number> {
  const deadline = Date.now() + 60_000;
  let progressKey: string | undefined;
  while (progressKey === undefined && Date.now() < deadline) {
    const key = (await client.keys(pattern)).find(fresh);
    if (key !== undefined && Number(await client.hget(key, 'published')) > 0) progressKey = key;
  }
  if (progressKey === undefined) throw new Error(`no step of the backfill within 60 s\n${fleet.dump()}`);
  await client.call('CLIENT', 'PAUSE', '10000', 'WRITE');
  const halfWay = Number(await client.hget(progressKey, 'published'));
  leader.child.kill('SIGKILL');
  await leader.exited;
  await client.call('CLIENT', 'UNPAUSE');
  return halfWay;
}
